"""The sweep's own logic: its config, the mixing components and eval sets it tokenises, and its signal statistics."""
