"""Read a dataset's rows through ``datasets``: a hub id or a local jsonl/json/csv/parquet file."""

from __future__ import annotations

from pathlib import Path

# Local file suffix -> the `datasets` builder that reads it.
LOCAL_BUILDERS = {".jsonl": "json", ".json": "json", ".csv": "csv", ".parquet": "parquet"}


def is_local(source: str) -> bool:
    return Path(source).exists()


def _csv_as_strings(path: Path) -> dict:
    """CSV cells stay strings: "None"/"NA" answers must not become NaN, ids must not become numbers."""
    import csv

    from datasets import Features, Value

    with open(path, newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle), None)
    if not header:
        raise ValueError(f"{path}: empty CSV file (no header row)")
    return {"keep_default_na": False, "features": Features({name: Value("string") for name in header})}


def load_hf_dataset(source: str, split: str = "train", subset: str | None = None):
    """A ``datasets.Dataset`` from a hub id, a local file, or a local dataset folder."""
    from datasets import load_dataset

    path = Path(source)
    if path.is_file():
        builder = LOCAL_BUILDERS.get(path.suffix.lower())
        if builder is None:
            raise ValueError(
                f"{source}: unsupported file type {path.suffix!r}; use one of {', '.join(LOCAL_BUILDERS)}"
            )
        extra = _csv_as_strings(path) if builder == "csv" else {}
        # A local file has one split, called "train" by `datasets`, whatever the config says.
        return load_dataset(builder, data_files=str(path), split="train", **extra)
    if path.is_dir():
        if (path / "state.json").exists():  # written by Dataset.save_to_disk
            from datasets import load_from_disk

            return load_from_disk(str(path))
        return load_dataset(str(path), split=split)
    if source.startswith((".", "/")) or source.count("/") != 1:
        raise FileNotFoundError(f"{source}: no such file, and not a hub id of the form owner/name")
    try:
        return load_dataset(source, subset, split=split)
    except Exception as error:  # noqa: BLE001 - offline, gated, renamed: say which source failed
        raise FileNotFoundError(
            f"cannot load hub dataset {source!r} (subset {subset!r}, split {split!r}): {type(error).__name__}: {error}"
        ) from None


def load_rows(source: str, split: str = "train", subset: str | None = None) -> list[dict]:
    """All rows as plain dicts, in the source's order."""
    return load_hf_dataset(source, split, subset).to_list()
