


def ours(name: str | None, type_: str, _parent: object) -> bool:
    """Autogenerate and compare only Custody's tables; procrastinate's, in the same database, are its own."""
    return not (type_ == "table" and (name or "").startswith("procrastinate_"))
