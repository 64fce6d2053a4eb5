"""Many questions at once, questions during an ingest, and one writer at a time per index.

Everything runs on the real model and real Chroma stores in tmp dirs; answers given
concurrently are compared with the same questions asked one at a time."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import EVAL_SET, copy_corpus, settings_for

from qa.assistant import Assistant
from qa.citations import verify_quotes as verify
from qa.index import CorpusIndex, IndexBusy
from qa.types import Answer

TRT = "trtworld-2015-10-iranian-troops-mobilise-for-aleppo.txt"
AIRPORT = "Through which airport did the Iranian troops arrive in Syria?"


def comparable(answer: Answer) -> dict:
    """Everything an answer says, without its timings (which differ run to run)."""
    data = answer.to_dict()
    data.pop("timings_ms")
    return data


def eval_questions(n: int) -> list[tuple[str, list]]:
    """The first n questions of the shipped evaluation set, follow-ups with their history."""
    items = [json.loads(line) for line in EVAL_SET.read_text(encoding="utf-8").splitlines() if line.strip()]
    chosen = [i for i in items if not i.get("history")][: n - 3] + [i for i in items if i.get("history")][:3]
    return [(i["question"], i.get("history") or []) for i in chosen]


def edit_trt(corpus: Path) -> None:
    path = corpus / TRT
    text = path.read_text(encoding="utf-8")
    assert text.count("Hmaymim Airport") == 1
    path.write_text(text.replace("Hmaymim Airport", "Zanzibar Spaceport"), encoding="utf-8")


@pytest.fixture()
def private(shipped, tmp_path):
    """Settings for a private copy of the shipped corpus and its built index (no re-embedding)."""
    copy_corpus(tmp_path / "corpus")
    shutil.copytree(shipped.index_dir, tmp_path / "index")
    settings = settings_for(tmp_path)
    assert CorpusIndex(settings).status()[0] == "current"
    return settings


def run_threads(workers: list[threading.Thread], timeout: float = 240) -> None:
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout)
        assert not worker.is_alive(), "a question thread hung"


def test_eight_threads_on_one_assistant_answer_as_they_do_one_at_a_time(assistant):
    items = eval_questions(16)
    expected = [comparable(assistant.ask(q, history=h)) for q, h in items]
    start = threading.Barrier(8)
    got: list[tuple[int, dict]] = []
    errors: list[BaseException] = []

    def asker(seed: int) -> None:
        order = random.Random(seed).sample(range(len(items)), 4)  # each thread its own mix
        start.wait()
        for i in order:
            try:
                answer = assistant.ask(items[i][0], history=items[i][1])
                verify(answer)
                got.append((i, comparable(answer)))
            except BaseException as exc:  # noqa: BLE001 - collected and asserted on below
                errors.append(exc)

    run_threads([threading.Thread(target=asker, args=(seed,)) for seed in range(8)])
    assert not errors, errors
    assert len(got) == 32
    for i, answer in got:
        assert answer == expected[i], items[i][0]


def test_several_assistants_on_one_index_answer_alike_and_closing_one_leaves_the_others(shipped):
    items = eval_questions(8)
    bots = [Assistant(shipped) for _ in range(4)]
    expected = [comparable(bots[0].ask(q, history=h)) for q, h in items]
    start = threading.Barrier(7)  # six askers on bots 1-3, and the main thread
    got: list[tuple[int, dict]] = []
    errors: list[BaseException] = []

    def asker(bot: Assistant, seed: int) -> None:
        order = random.Random(seed).sample(range(len(items)), 4)
        start.wait()
        for i in order:
            try:
                answer = bot.ask(items[i][0], history=items[i][1])
                verify(answer)
                got.append((i, comparable(answer)))
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

    threads = [threading.Thread(target=asker, args=(bots[1 + s % 3], s)) for s in range(6)]
    for thread in threads:
        thread.start()
    start.wait()
    # Each Assistant has its own Chroma client on the same store; closing one while the others
    # are answering must not close the store under them.
    bots[0].close()
    for thread in threads:
        thread.join(240)
    assert not errors, errors
    assert len(got) == 24
    for i, answer in got:
        assert answer == expected[i], items[i][0]
    # The closed one opens the index again on its next question.
    assert comparable(bots[0].ask(items[0][0], history=items[0][1])) == expected[0]
    for bot in bots:
        bot.close()


def test_a_new_reader_is_answered_from_the_current_build_while_a_writer_holds_the_index(private):
    """A question is not refused because an ingest is running: the corpus is stale, another
    writer has the lock, and the question is answered from the build that is current."""
    before = Assistant(private).ask(AIRPORT)
    assert "Hmaymim Airport" in before.text
    edit_trt(Path(private.corpus_dir))
    writer = CorpusIndex(private)
    with writer._write_lock():
        reader = Assistant(private)  # auto_ingest is on: it would update the stale index itself
        assert reader.index_status()[0] == "stale"
        answer = reader.ask(AIRPORT)
        verify(answer)
        assert comparable(answer) == comparable(before)
    reader.ingest()
    after = reader.ask(AIRPORT)
    verify(after)
    assert "Zanzibar Spaceport" in after.text and "Hmaymim" not in after.text


def qa_env(settings, **extra: str) -> dict[str, str]:
    return {**os.environ, "QA_CORPUS_DIR": str(settings.corpus_dir), "QA_INDEX_DIR": str(settings.index_dir),
            "QA_PROGRESS": "false", **extra}


def lock_holder(settings) -> str:
    try:
        return (Path(settings.index_dir) / ".lock").read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return ""


@pytest.mark.slow
def test_questions_asked_during_an_ingest_in_another_process_see_the_old_or_the_new_index(private):
    old_bot = Assistant(private)
    old = comparable(old_bot.ask(AIRPORT))
    assert "Hmaymim Airport" in old["text"]
    edit_trt(Path(private.corpus_dir))
    # The writer holds the lock from before loading the model to the swap: seconds of overlap.
    writer = subprocess.Popen([sys.executable, "-m", "qa.cli", "ingest"], env=qa_env(private),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen: list[tuple[str, dict]] = []
    errors: list[BaseException] = []
    finished = threading.Event()

    def ask_until_done(name: str, make_bot) -> None:
        try:
            bot = make_bot()
            extra = 0
            while extra < 3:  # keep asking until the writer is done, then three more times
                extra += finished.is_set()
                answer = bot.ask(AIRPORT)
                verify(answer)
                seen.append((name, comparable(answer)))
                time.sleep(0.2)  # leave the writer most of the two cores
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    def fresh_bot() -> Assistant:
        # Opened while the other process holds the write lock, on a stale index.
        deadline = time.monotonic() + 120
        while lock_holder(private) != f"pid {writer.pid}" and writer.poll() is None:
            assert time.monotonic() < deadline, "the writer never took the lock"
            time.sleep(0.05)
        return Assistant(private)

    threads = [threading.Thread(target=ask_until_done, args=("open", lambda: old_bot)),
               threading.Thread(target=ask_until_done, args=("open", lambda: old_bot)),
               threading.Thread(target=ask_until_done, args=("fresh", fresh_bot))]
    for thread in threads:
        thread.start()
    try:
        out, err = writer.communicate(timeout=300)
    finally:
        finished.set()
        for thread in threads:
            thread.join(120)
    assert writer.returncode == 0, err
    assert out.startswith("index updated: ") and "1 changed" in out
    assert not errors, errors

    new = comparable(Assistant(private).ask(AIRPORT))
    assert "Zanzibar Spaceport" in new["text"]
    assert CorpusIndex(private).status()[0] == "current"
    during = [answer for _, answer in seen]
    assert all(answer in (old, new) for answer in during), [a["text"] for a in during if a not in (old, new)]
    # Old answers were given while the writer worked, and every reader moved to the new build.
    assert old in during
    for name in ("open", "fresh"):
        assert [a for n, a in seen if n == name][-1] == new


@pytest.mark.slow
def test_a_second_writer_in_another_process_gets_index_busy(private):
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys\nfrom qa.config import Settings\nfrom qa.index import CorpusIndex\n"
         "index = CorpusIndex(Settings(corpus_dir=sys.argv[1], index_dir=sys.argv[2], progress=False))\n"
         "with index._write_lock():\n    print('locked', flush=True)\n    sys.stdin.read()\n",
         str(private.corpus_dir), str(private.index_dir)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        build = CorpusIndex(private).current_build()
        edit_trt(Path(private.corpus_dir))

        with pytest.raises(IndexBusy) as busy:
            CorpusIndex(private).ingest()
        message = str(busy.value)
        assert f"another ingest (pid {holder.pid})" in message and str(private.index_dir) in message
        assert "wait for it to finish" in message

        done = subprocess.run([sys.executable, "-m", "qa.cli", "ingest"], env=qa_env(private),
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 1
        assert f"another ingest (pid {holder.pid})" in done.stderr and "Traceback" not in done.stderr
        assert CorpusIndex(private).current_build() == build  # neither refused writer wrote anything
        assert [p.name for p in CorpusIndex(private).builds_dir.iterdir()] == [build.name]
    finally:
        holder.stdin.close()
        holder.wait(60)
    # Released when the holder ends: the next writer goes ahead.
    report = CorpusIndex(private).ingest()
    assert report.updated == [TRT]
    assert CorpusIndex(private).status()[0] == "current"


def test_the_sentence_vector_cache_stays_correct_when_full_and_shared_by_threads():
    """Once the cache is full, a call whose cached texts are the oldest (so evicted by its own
    new ones, or by another thread's) still gets every vector, and the right one."""
    import numpy as np

    from qa.assistant import _VectorCache
    from qa.embedding import load_embedder

    embedder = load_embedder()
    texts = [f"The depot logged {n} crates of lentils." for n in range(24)]
    truth = {t: np.asarray(v, dtype=np.float32) for t, v in zip(texts, embedder.get_text_embedding_batch(texts))}

    cache = _VectorCache(embedder, size=4)
    cache(texts[:4])
    got = cache([texts[0]] + texts[4:8])  # texts[0] is cached but the oldest: the new four evict it
    assert np.allclose(got, np.stack([truth[t] for t in [texts[0]] + texts[4:8]]), atol=1e-5)

    shared = _VectorCache(embedder, size=6)
    errors: list[BaseException] = []

    def user(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for _ in range(12):
                batch = rng.sample(texts, 5)
                assert np.allclose(shared(batch), np.stack([truth[t] for t in batch]), atol=1e-5)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    run_threads([threading.Thread(target=user, args=(seed,)) for seed in range(6)])
    assert not errors, errors


def test_threads_opening_and_closing_clients_of_one_store_never_get_a_stopped_one(tmp_path):
    # chromadb alone fails this (about 78 of 160 calls raised "'RustBindingsAPI' object has no
    # attribute 'bindings'"): a reader reopening an index while another thread closes a client.
    from qa.store import close_client, local_client

    client = local_client(tmp_path)
    client.get_or_create_collection("qa_chunks").add(ids=["a"], embeddings=[[0.1, 0.2]])
    close_client(client)
    errors: list[BaseException] = []

    def open_count_close() -> None:
        for _ in range(40):
            try:
                opened = local_client(tmp_path)
                assert opened.get_collection("qa_chunks").count() == 1
                close_client(opened)
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

    threads = [threading.Thread(target=open_count_close) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors[:3]
