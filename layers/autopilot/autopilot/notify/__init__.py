"""Notifications: routes, rendering per channel, delivery with retries that respect rate limits."""
