//! Long runs lose nothing: a run killed (SIGKILL) or stopped with Ctrl-C (SIGINT) continues
//! with `--resume` and ends with the metrics of an uninterrupted run of the same seed.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use common::{assert_success, pretext, stderr};

/// Shuffling, random shifts, Adam and early stopping with best-weight restore: every piece
/// of state a checkpoint must carry. Downstream phases are long enough to be killed in.
const RUN: &[&str] = &[
    "run", "--method", "rotation", "--unlabeled", "2000", "--labels", "500", "--test-size", "300", "--pretext-epochs", "4",
    "--downstream-epochs", "25", "--quiet",
];

/// BYOL carries the most state of the two-view methods: a moving-average target, batch-norm
/// statistics, AdamW moments, the cosine schedule's position and the views' generator.
const BYOL_RUN: &[&str] = &[
    "run", "--method", "byol", "--unlabeled", "2048", "--pretext-epochs", "3", "--pretext-batch-size", "128", "--labels", "100",
    "--balanced-labels", "true", "--test-size", "200", "--downstream-epochs", "5", "--baselines", "false", "--quiet",
];

/// FixMatch draws labelled picks, weak shifts and strong RandAugment views from the phase's
/// generator, and counts pseudo-labels across steps: all of it must survive a kill.
const FIXMATCH_RUN: &[&str] = &[
    "run", "--unlabeled", "2000", "--pretext-epochs", "1", "--labels", "100", "--balanced-labels", "true", "--test-size", "200",
    "--downstream-epochs", "5", "--semi-supervised", "fixmatch", "--semi-epochs", "4", "--semi-batch-size", "16", "--baselines", "false",
    "--quiet",
];

fn start(run: &[&str], out: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_pretext"))
        .args(run)
        .args(["--out", out.to_str().unwrap()])
        .env("PRETEXT_DATA_DIR", common::data_dir())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("binary starts")
}

/// Waits until the phase `phase` of the run in `out` has written a checkpoint.
fn wait_for_checkpoint(child: &mut Child, out: &Path, phase: &str) {
    let state = out.join("checkpoints").join(phase).join("state.json");
    let deadline = Instant::now() + Duration::from_secs(300);
    while !state.exists() {
        assert!(child.try_wait().unwrap().is_none(), "the run ended before {} appeared", state.display());
        assert!(Instant::now() < deadline, "no checkpoint {}", state.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn metrics(out: &Path) -> String {
    std::fs::read_to_string(out.join("metrics.json")).unwrap()
}

/// The rows of a phase's history CSV without their last column (the epoch's seconds).
fn history(out: &Path, phase: &str) -> Vec<String> {
    let csv = std::fs::read_to_string(out.join(format!("history_{phase}.csv"))).unwrap();
    csv.lines().skip(1).map(|row| row.rsplit_once(',').unwrap().0.to_string()).collect()
}

fn resume(out: &Path) -> Output {
    pretext(&["run", "--resume", out.to_str().unwrap(), "--quiet"])
}

fn uninterrupted(run: &[&str], dir: &Path) -> String {
    let out = dir.join("uninterrupted");
    let mut args = run.to_vec();
    args.extend(["--out", out.to_str().unwrap()]);
    assert_success(&pretext(&args));
    assert!(!out.join("checkpoints").exists(), "a finished run keeps no checkpoints");
    metrics(&out)
}

#[test]
fn killed_and_interrupted_runs_resume_to_the_metrics_of_an_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let expected = uninterrupted(RUN, dir.path());

    // SIGKILL in the downstream phase, with the pretext phase finished and checkpointed.
    let killed: PathBuf = dir.path().join("killed");
    let mut child = start(RUN, &killed);
    wait_for_checkpoint(&mut child, &killed, "ssl_fine_tune");
    child.kill().unwrap();
    child.wait().unwrap();
    // Every epoch that ended before the kill is in the history, flushed as it ended.
    let state: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(killed.join("checkpoints/ssl_fine_tune/state.json")).unwrap()).unwrap();
    let epochs_done = state["progress"]["epochs_done"].as_u64().unwrap() as usize;
    let rows = history(&killed, "downstream").len();
    assert!(epochs_done >= 1 && (epochs_done..=epochs_done + 1).contains(&rows), "{epochs_done} epochs done, {rows} rows");
    // Commands that read a run's results name the way to finish it.
    for command in [&["predict", "x.png", "--run"][..], &["probe", "--run"], &["eval", "--run"], &["export", "--format", "onnx", "--run"]] {
        let output = pretext(&[command, &[killed.to_str().unwrap()]].concat());
        assert_eq!(output.status.code(), Some(2), "{command:?}: {}", stderr(&output));
        let hint = format!("holds a run that did not finish (interrupted, or still running); continue it with `pretext run --resume {}`", killed.display());
        assert!(stderr(&output).contains(&hint), "{command:?}: {}", stderr(&output));
    }
    let output = resume(&killed);
    assert_success(&output);
    assert_eq!(metrics(&killed), expected, "killed then resumed");
    assert_eq!(history(&killed, "downstream"), history(&dir.path().join("uninterrupted"), "downstream"));

    // Ctrl-C in the second pretext epoch: the step finishes, a checkpoint is saved, exit 130.
    let stopped = dir.path().join("stopped");
    let mut child = start(RUN, &stopped);
    wait_for_checkpoint(&mut child, &stopped, "pretext");
    // SAFETY: kill(2) with a live child's pid and a signal number has no memory effects.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) }, 0);
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(130), "{}", stderr(&output));
    let hint = format!("continue with `pretext run --resume {}`", stopped.display());
    assert!(stderr(&output).contains(&hint), "{}", stderr(&output));
    let state = std::fs::read_to_string(stopped.join("checkpoints/pretext/state.json")).unwrap();
    assert!(!state.contains("\"steps_done\": 0,"), "Ctrl-C mid-epoch saves the steps taken: {state}");
    assert_success(&resume(&stopped));
    assert_eq!(metrics(&stopped), expected, "interrupted then resumed");

    // A finished run has nothing to resume.
    let output = resume(&stopped);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("holds a finished run (its results are there): nothing to resume"), "{}", stderr(&output));
}

/// Kills `run` once `phase` has a checkpoint and before that phase ends, resumes it, and
/// checks that it ends with the metrics of an uninterrupted run.
fn killed_in_phase_resumes_to_the_same_metrics(run: &[&str], phase: &str) {
    let dir = tempfile::tempdir().unwrap();
    let expected = uninterrupted(run, dir.path());
    let killed = dir.path().join("killed");
    let mut child = start(run, &killed);
    wait_for_checkpoint(&mut child, &killed, phase);
    child.kill().unwrap();
    child.wait().unwrap();
    let state = std::fs::read_to_string(killed.join("checkpoints").join(phase).join("state.json")).unwrap();
    assert!(!state.contains("\"finished\": true"), "killed before the {phase} phase ended: {state}");
    assert_success(&resume(&killed));
    assert_eq!(metrics(&killed), expected, "killed then resumed");
}

#[test]
fn a_byol_run_killed_in_pretraining_resumes_to_the_same_metrics() {
    killed_in_phase_resumes_to_the_same_metrics(BYOL_RUN, "pretext");
}

#[test]
fn a_fixmatch_run_killed_in_its_semi_supervised_phase_resumes_to_the_same_metrics() {
    killed_in_phase_resumes_to_the_same_metrics(FIXMATCH_RUN, "ssl_fixmatch");
}

#[test]
fn a_resumed_run_reads_the_data_where_the_run_found_it() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let data = common::data_dir();
    let tiny = ["pretrain", "--preset", "seed", "--unlabeled", "200", "--pretext-epochs", "1", "--quiet"];
    let output = pretext(&[&tiny[..], &["--data-dir", data.to_str().unwrap(), "--out", run.to_str().unwrap()]].concat());
    assert_success(&output);
    // As if it had been killed before its end; resumed with neither --data-dir nor
    // PRETEXT_DATA_DIR, and an empty user cache, so only dataset.json can say where MNIST is.
    std::fs::remove_file(run.join("timings.json")).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_pretext"))
        .args(["pretrain", "--resume", run.to_str().unwrap()])
        .env_remove("PRETEXT_DATA_DIR")
        .env("XDG_CACHE_HOME", dir.path().join("cache"))
        .output()
        .unwrap();
    assert_success(&output);
    assert!(run.join("timings.json").is_file());
}
