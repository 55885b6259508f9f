"""`styxy serve`: the HTTP API and the dashboard, a thin room over `styxy.api`.

Nothing here is imported by the command line's hot path; Starlette and Uvicorn (the extra
`styxy[server]`) are imported only when the server starts.
"""
