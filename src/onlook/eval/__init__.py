"""Evaluation of onlook on streaming questions: loaders for onlook's and published benchmarks' files."""

from onlook.eval.loaders import (
    FORMATS,
    OVOBENCH_TYPES,
    QUESTION_TYPES,
    STREAMINGBENCH_TYPES,
    EvalQuestion,
    load_questions,
    normalize_options,
    parse_hms,
    parse_needs,
)

__all__ = [
    "EvalQuestion",
    "FORMATS",
    "OVOBENCH_TYPES",
    "QUESTION_TYPES",
    "STREAMINGBENCH_TYPES",
    "load_questions",
    "normalize_options",
    "parse_hms",
    "parse_needs",
]
