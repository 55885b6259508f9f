"""Styxy for AI coding agents: the MCP server and Claude Code's session hooks (SPEC section 11).

Nothing here is imported on the hot path of `styxy allocate`; the MCP SDK itself is imported
only by `styxy.agents.mcp.serve`, when `styxy mcp` starts.
"""
