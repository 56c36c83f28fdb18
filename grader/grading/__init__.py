"""Trusted side, one job: the pytest plugin, the proxies that reach into the sandbox, the comparison,
lockstep recordings, and the worker process a job runs in. Never imported by the sandbox."""
