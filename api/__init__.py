"""FastAPI app: REST, WebSocket hub, auth and the dashboard page."""
