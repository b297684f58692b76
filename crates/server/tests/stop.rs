//! Operations (issue 23): SIGTERM, as systemd, Docker and Kubernetes send it, stops the server
//! as gracefully as Ctrl-C: no new work, the running job kept for the next start, the job
//! database's write-ahead log checkpointed; and a disk that fills up never loses an
//! acknowledged job or leaves half-written files.

mod common;

use std::time::{Duration, Instant};

use common::{models_dir, TestServer};
use serde_json::Value;

const SLOW: &str = "prompt=slow&steps=150&width=128&height=128&seed=1&model=diffusion-tiny-demo";

/// Waits until the job has made progress (it is running).
fn wait_running(server: &TestServer, key: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while server.ready(key)["progress"].as_u64().unwrap_or(0) == 0 {
        assert!(Instant::now() < deadline, "{key} never started");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn key(job: &Value) -> String {
    job["outputs"][0].as_str().unwrap().to_owned()
}

#[test]
fn sigterm_keeps_the_running_job_for_the_next_start() {
    // No grace: the running job is interrupted at once and kept for the next start.
    let server = TestServer::start_with(&["--stop-grace-secs", "0"], &[]);
    let slow = server.txt2img(SLOW);
    let queued = server.txt2img("prompt=next&steps=2&width=64&height=64&seed=2");
    wait_running(&server, &key(&slow));
    let started = Instant::now();
    let (status, log, outputs) = server.terminate(Duration::from_secs(30));
    let status = status.expect("the server did not stop within 30 s of SIGTERM");
    assert!(status.success(), "exit status {status:?}\n{log}");
    assert!(started.elapsed() < Duration::from_secs(15));
    assert!(log.contains("kept for the next start"), "{log}");
    assert!(log.contains("stopped"), "{log}");
    // The write-ahead log was moved into the database.
    let wal = outputs.path().join(".onnx-web-jobs.sqlite3-wal");
    assert!(
        std::fs::metadata(&wal).map_or(true, |m| m.len() == 0),
        "the WAL holds {} bytes after a clean stop",
        std::fs::metadata(&wal).unwrap().len()
    );

    // Stopped once more while it runs again: a graceful stop is not a crash, so it does not
    // count towards the attempts after which a job is given up.
    let server = TestServer::start_on(&models_dir(), outputs, &["--stop-grace-secs", "0"], &[]);
    wait_running(&server, &key(&slow));
    let (status, log, outputs) = server.terminate(Duration::from_secs(30));
    assert!(status.is_some_and(|s| s.success()), "{log}");

    let server = TestServer::start_on(&models_dir(), outputs, &[], &[]);
    for job in [&slow, &queued] {
        let images = server.images(job);
        assert!(!images.is_empty());
        assert!(server.ready(&key(job))["failed"] == false);
    }
    let log = server.log();
    assert!(log.contains("resuming 2 unfinished job(s)"), "{log}");
}

/// Makes every later write of `pid` past offset 0 fail, as on a full disk (RLIMIT_FSIZE 0:
/// the server ignores SIGXFSZ, so writes fail with EFBIG).
fn fill_the_disk(pid: u32) {
    let limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: prlimit on our own child process with a valid rlimit.
    let result = unsafe {
        libc::prlimit(
            pid as libc::pid_t,
            libc::RLIMIT_FSIZE,
            &limit,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(result, 0, "prlimit: {}", std::io::Error::last_os_error());
}

#[test]
fn a_full_disk_refuses_new_jobs_and_loses_no_acknowledged_one() {
    let server = TestServer::start();
    let done = server.txt2img("prompt=first&steps=2&width=64&height=64&seed=3");
    server.images(&done);
    let running = server.txt2img(SLOW);
    wait_running(&server, &key(&running));

    fill_the_disk(server.pid());
    let refused = server.post("/api/txt2img?prompt=late&steps=2&width=64&height=64&seed=4");
    assert_eq!(refused.status(), 503);
    assert!(refused.headers().contains_key("retry-after"));
    let body: Value = refused.json().unwrap();
    let message = body["error"].as_str().unwrap();
    assert!(message.contains("could not be recorded"), "{message}");

    // The running job cannot write its image: it fails with a reason, leaving no partial file.
    let last = server.wait(&key(&running)).pop().unwrap();
    assert_eq!(last["failed"], true, "{last}");
    let leftovers: Vec<String> = std::fs::read_dir(server.outputs.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty(), "half-written files: {leftovers:?}");

    // A crash now, then a start with room on the disk: every acknowledged job is accounted for.
    let outputs = server.kill();
    let server = TestServer::start_on(&models_dir(), outputs, &[], &[]);
    server.images(&done);
    // Its failure could not be recorded either, so the job runs again and now succeeds.
    server.images(&running);
}
