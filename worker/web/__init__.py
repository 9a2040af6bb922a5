"""suture's HTTP face: the webhook receivers and health checks (`hooks`), their signature
checks (`signatures`), and serving the application on a thread (`server`)."""
