"""Write the curated set, the dropped rows and the summary: same inputs -> same bytes.

Parquet tables are built from explicit pyarrow schemas (no pandas metadata, no timestamps).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from workflow_scripts.io import atomic_path, write_json

CURATED_SCHEMA = pa.schema([
    ("question", pa.string()), ("solution", pa.string()), ("source_type", pa.string()),
    ("cot_type", pa.string()), ("metadata", pa.string()), ("thinking", pa.string()), ("attempt", pa.string()),
    ("domain", pa.string()), ("trace_tokens", pa.int64()), ("qwen7b_correct", pa.bool_()),
    ("qwen32b_correct", pa.bool_()), ("gemini_correct", pa.bool_()), ("row_index", pa.int64()),
    ("keep_reason", pa.string()), ("domain_rank", pa.int64()), ("draw_order", pa.int64()),
])
DROPPED_SCHEMA = pa.schema([
    ("row_index", pa.int64()), ("stage", pa.string()), ("reason", pa.string()), ("detail", pa.string()),
    ("eval_benchmark", pa.string()), ("eval_id", pa.string()), ("match", pa.string()),
    ("eval_coverage", pa.float64()), ("shared_span_words", pa.int64()), ("shared_span", pa.string()),
    ("shared_ngrams", pa.int64()),
    ("shared_grams", pa.list_(pa.struct([("gram", pa.string()), ("pool_rows", pa.int64()),
                                          ("eval_rows", pa.int64()), ("counted", pa.bool_())]))),
    ("cluster_id", pa.int64()), ("cluster_representative", pa.int64()),
    ("question", pa.string()), ("source_type", pa.string()), ("domain", pa.string()),
    ("trace_tokens", pa.int64()), ("qwen7b_correct", pa.bool_()), ("qwen32b_correct", pa.bool_()),
    ("gemini_correct", pa.bool_()),
])


def _clean(value):
    # pandas turns None into NaN in numeric columns; parquet wants null.
    if value is None:
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value.item() if hasattr(value, "item") else value


def to_table(frame: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    columns = {}
    for name in schema.names:
        values = [_clean(v) for v in frame[name].tolist()] if name in frame.columns else [None] * len(frame)
        columns[name] = pa.array(values, type=schema.field(name).type)
    return pa.table(columns, schema=schema)


def write_parquet(frame: pd.DataFrame, schema: pa.Schema, path: str | Path) -> None:
    table = to_table(frame, schema)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd", write_statistics=True)


def write_outputs(result, out_dir: str | Path) -> dict[str, str]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_parquet(result.curated, CURATED_SCHEMA, out_dir / "curated.parquet")
    write_parquet(result.dropped, DROPPED_SCHEMA, out_dir / "dropped.parquet")
    write_json(out_dir / "summary.json", result.summary)
    return {"curated": str(out_dir / "curated.parquet"), "dropped": str(out_dir / "dropped.parquet"),
            "summary": str(out_dir / "summary.json")}
