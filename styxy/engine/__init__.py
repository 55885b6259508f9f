"""Choosing ports: allocation inside a loaded transaction, ranges for new types,
placement, the hazards of where a range lies, the result records. Never opens a file."""
