"""`mo batch`: twelve lines (one of them invalid, one with an image), interrupted with Ctrl-C
once jobs are in flight, then run again: every valid line ends as exactly one job."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import time

from mo_client import Client

from tests.client.conftest import MO, PASSWORD, as_json, png


def write_batch(folder) -> None:
    png(folder / "ref.png")
    rows = [{"prompt": "a kite with a reference image", "duration": "5", "aspect": "1:1", "image": "ref.png"}]
    rows += [
        {"prompt": f"scene {n}: a lantern drifts over a lake", "duration": "5", "aspect": "1:1", "image": ""}
        for n in range(1, 11)
    ]
    rows.insert(6, {"prompt": "an impossible shape", "duration": "5", "aspect": "4:3", "image": ""})  # line 7
    with open(folder / "jobs.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["prompt", "duration", "aspect", "image"])
        writer.writeheader()
        writer.writerows(rows)


def test_a_batch_interrupted_and_run_again_makes_each_job_once(cli, signed_up, stack, tmp_path):
    write_batch(tmp_path)
    env = {**os.environ, "MO_API_URL": stack.url}
    env.pop("MO_TOKEN", None)
    with Client(stack.url) as mo:
        mo.login(signed_up, PASSWORD)

        first = subprocess.Popen(
            [str(MO), "batch", "jobs.csv", "--concurrency", "3", "--out", "videos"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 60
            while len(mo.list_jobs().items) < 2:  # jobs in flight: now interrupt
                assert first.poll() is None and time.monotonic() < deadline, first.communicate()
                time.sleep(0.2)
            first.send_signal(signal.SIGINT)
            stdout, stderr = first.communicate(timeout=60)
        finally:
            first.kill()
        assert first.returncode == 130, stderr
        assert "Traceback" not in stderr and "run the same command again" in stderr
        interrupted = list(csv.DictReader((tmp_path / "jobs.results.csv").read_text().splitlines()))
        assert len(interrupted) == 12 and "interrupted" in {r["status"] for r in interrupted}
        before = {j.id for j in mo.iter_jobs()}

        again = cli("batch", "jobs.csv", "--out", "videos", "--json", code=1)
        results = as_json(again)["results"]
        by_line = {r["line"]: r for r in results}
        assert by_line[7]["status"] == "refused" and "aspect" in by_line[7]["error"]
        valid = [r for n, r in by_line.items() if n != 7]
        assert [r["status"] for r in valid] == ["succeeded"] * 11
        for r in valid:
            assert (tmp_path / r["output"]).read_bytes()[4:8] == b"ftyp"

        jobs = list(mo.iter_jobs())
        assert len(jobs) == 11 and {r["job_id"] for r in valid} == {j.id for j in jobs}
        assert before <= {j.id for j in jobs}  # the first run's jobs were resumed, not redone
        image_job = next(j for j in jobs if j.id == by_line[1]["job_id"])
        assert image_job.request["inputs"]["reference_image_upload_id"].startswith("upl_")

    saved = list(csv.DictReader((tmp_path / "jobs.results.csv").read_text().splitlines()))
    assert [r["status"] for r in saved].count("succeeded") == 11
    journal = (tmp_path / "jobs.results.csv.journal").read_text().splitlines()
    assert len(journal) == 1  # the image went up once; the rerun reused its upload


def test_json_lines_batches_and_bad_lines(cli, signed_up, tmp_path):
    (tmp_path / "jobs.jsonl").write_text(
        "\n".join(
            [
                json.dumps({"prompt": "a quick one", "duration_s": 5, "aspect": "1:1"}),
                "{not json",
                json.dumps({"duration_s": 5}),
                json.dumps(["a list"]),
            ]
        )
        + "\n"
    )
    results = as_json(cli("batch", "jobs.jsonl", "--no-download", "--json", code=1))["results"]
    assert [r["status"] for r in results] == ["succeeded", "invalid", "invalid", "invalid"]
    assert results[0]["output"].startswith("http")
    assert "no prompt" in results[2]["error"]
    saved = [json.loads(line) for line in (tmp_path / "jobs.results.jsonl").read_text().splitlines()]
    assert saved == results
