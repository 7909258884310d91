"""Reading a run's metrics back: a resumed run's rows replace the dead run's."""

from vtedge.train.metrics_log import MetricsLog, read_metrics


def test_a_resumed_run_supersedes_the_steps_it_repeats(tmp_path):
    log = MetricsLog(tmp_path)
    for step in (1, 2, 3):  # died after step 3, last checkpoint at step 2
        log.write(step, "train", {"loss": 1.0})
    log.write(2, "val", {"loss": 5.0})
    for step in (3, 4):  # resumed from step 2
        log.write(step, "train", {"loss": 0.5})
    rows = read_metrics(tmp_path)
    assert [(r["step"], r["split"], r["loss"]) for r in rows] == [
        (1, "train", 1.0), (2, "train", 1.0), (2, "val", 5.0), (3, "train", 0.5),
        (4, "train", 0.5)]
