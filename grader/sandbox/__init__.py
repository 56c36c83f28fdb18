"""Running untrusted student code: the zygote that forks sandboxes, the sandbox server, and the client."""
