"""A model's sample store: where its ``generate`` job appends samples (flush + fsync) as
they finish, one file per (run, dataset): ``generation/<model>/.store/<part>/<method>/<setting>/<dataset>.jsonl``.

The store belongs to that job alone and is not a declared output, so it outlives what
Snakemake removes: a job killed half-way, or one rerun because a run was added or changed, reads
it, drops a torn last line, ignores samples made with other settings (their ``resume_key``
differs) or from an edited eval record, and generates only the missing ones. The ``shards``
jobs read it to write each run's shards. Delete ``.store`` to regenerate everything.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Iterable

from workflow_scripts.errors import UserError
from workflow_scripts.methods.base import sample_key


class StoreError(UserError):
    """A store file is unusable; the message names the file and line."""


def resume_key(payload: dict[str, Any]) -> str:
    """Stable hash of everything that determines a sample (model, method, settings, seed)."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


class SampleStore:
    """One (run, dataset) file of the store. ``digests`` ({question id: digest of its eval record}, optional):
    a stored sample counts only if it was made from the record as it is now, so an edited eval
    question is regenerated; appended samples are stamped with it (``record_sha``)."""

    def __init__(self, path: str | Path, key: str, digests: dict[str, str] | None = None):
        self.path = Path(path)
        self.key = key
        self.digests = digests
        self.samples: dict[str, dict[str, Any]] = {}
        self.torn_lines = 0
        self.foreign_samples = 0  # made with another resume key or from another record: regenerated

    def load(self) -> dict[str, dict[str, Any]]:
        """Finished samples (this key and these records only); a torn last line is cut off."""
        self.samples, self.torn_lines, self.foreign_samples = {}, 0, 0
        if self.path.exists():
            for sample in self._read(self.path):
                self._keep(sample)
        return self.samples

    def _keep(self, sample: dict[str, Any]) -> None:
        stale = self.digests is not None and sample.get("record_sha") != self.digests.get(str(sample.get("id")))
        if sample.get("resume_key") != self.key or stale:
            self.foreign_samples += 1
            return
        self.samples.setdefault(sample_key(sample), sample)

    def _read(self, path: Path) -> Iterable[dict[str, Any]]:
        data = path.read_bytes()
        lines = data.split(b"\n")
        tail = lines.pop()  # b"" when the file ends with a newline
        rows = []
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise StoreError(f"{path}:{number}: not valid JSON ({error.msg}); delete the file to regenerate") from None
        if tail.strip():
            # A write killed half-way: cut it off so later appends start on a clean line.
            self.torn_lines += 1
            with open(path, "r+b") as handle:
                handle.truncate(len(data) - len(tail))
        return rows

    def append(self, samples: Iterable[dict[str, Any]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as handle:
            for sample in samples:
                sample = {**sample, "resume_key": self.key}
                if self.digests is not None:
                    sample["record_sha"] = self.digests[str(sample["id"])]
                handle.write(json.dumps(sample, ensure_ascii=False, sort_keys=True) + "\n")
                self.samples[sample_key(sample)] = sample
            handle.flush()
            os.fsync(handle.fileno())
