"""Mail: building and transporting messages, and the deliver step."""
