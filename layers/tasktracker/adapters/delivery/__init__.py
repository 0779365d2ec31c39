"""Delivery of reminders outside the app: e-mail over SMTP, webhooks over HTTP, and the check of webhook targets."""
