"""The operating system's and the registries' view of ports: listeners and
processes, IANA's assignments, the curated developer ports. Knows nothing of Markdown or leases."""
