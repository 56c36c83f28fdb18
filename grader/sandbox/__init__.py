"""The untrusted side: everything the sandbox process imports. The zygote that forks sandboxes, the
server that runs a student's calls, the kernel confinement, and what both sides share (the wire
codec, purity images, rebuilt modules, seeding, tripwires). Imports nothing from the trusted side;
the trusted side's handle on it is grader.grading.sandbox_client."""
