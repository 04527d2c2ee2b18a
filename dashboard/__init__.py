"""The dashboard: where the data lives, who can compel it, and why — read-only, behind sign-in."""
