"""Models of this app arrive with their own issue."""
