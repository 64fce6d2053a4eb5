"""Evaluation: run question sets through pipelines (ours and a llama-index baseline), score
retrieval, answers, citations, abstention and latency, and report or compare the runs.

    datasets     the question sets (ours and llama-index's formats)
    pipelines    what is evaluated: ours, its answerer variants, the baseline (baseline.py)
    scoring      the per-question metrics and their means
    records      one question's typed record: answer, passages, judged sentences, scores
    catalogue    every run-level metric: label, definition, format, which way is better
    stats        mean, median, nearest-rank percentile (shared with the benchmarks)
    run          running sets through pipelines; saved runs
    report_text  the summary table and the comparison of two saved runs
    report_html  the self-contained HTML report
    calibrate    the abstention threshold and the support judge's settings
"""

from .datasets import EvalItem, EvalSetError, load_eval_set, load_sets, parse_item
from .pipelines import OursPipeline, Pipeline, make_pipelines, pipeline_names
from .records import AnswerSentence, QuestionResult, QuestionScores, RetrievedPassage
from .report_text import compare, summary_table
from .run import EvalRun, PipelineRun, evaluate, load_run, run_pipeline
from .scoring import aggregate, score_answer

__all__ = ["EvalItem", "EvalSetError", "load_eval_set", "load_sets", "parse_item", "Pipeline", "OursPipeline",
           "make_pipelines", "pipeline_names", "QuestionResult", "QuestionScores", "RetrievedPassage",
           "AnswerSentence", "score_answer", "aggregate", "EvalRun",
           "PipelineRun", "evaluate", "run_pipeline", "load_run", "summary_table", "compare"]
