"""The emulated Amazon ECS: a scheduler over moto (engine), its API (api), its events (shapes)."""
