//! The job store and queue on a real SQLite file and on a real PostgreSQL
//! server, the same cases on both: order, leases, lapses, attempts,
//! cancellation, the queue's time-to-live, results written once, many
//! workers claiming at once, the quota under concurrent submissions, and
//! claims by job id (a dispatching queue's).

use std::collections::HashSet;
use std::time::Duration;

use lpdnn_baas_api::{JobOptions, SubjectKind};
use lpdnn_jobs::{now_ms, Cell, Claimed, DispatchStore, NewCell, NewGroup, RunEnd, Undispatched};
use lpdnn_jobs::{FailureKind, JobResult, JobSpec, JobStatus, NewJob, Outcome, StoreError};
use lpdnn_test_servers::Postgres;

fn spec(platform: &str) -> JobSpec {
    JobSpec {
        platform: platform.into(),
        profile: "default".into(),
        engine: lpdnn_baas_api::EngineName::OnnxRuntime,
        device: lpdnn_baas_api::Device::Cpu,
        subject: SubjectKind::Model,
        sha256: "ab".repeat(32),
        format: "ONNX".into(),
        options: JobOptions::default(),
    }
}

fn new_job(platform: &str) -> NewJob {
    NewJob {
        spec: spec(platform),
        owner: "alice".into(),
        max_attempts: 2,
        queue_ttl: Duration::from_secs(3600),
        retry_of: None,
        quota: None,
    }
}

/// What keeps a store's database alive while a case runs.
enum Held {
    File(#[allow(dead_code)] tempfile::TempDir),
    Server(#[allow(dead_code)] Postgres),
}

async fn sqlite() -> (Held, lpdnn_jobs_sqlite::SqliteJobs) {
    let dir = tempfile::tempdir().unwrap();
    let jobs = lpdnn_jobs_sqlite::open(&dir.path().join("jobs.db"))
        .await
        .unwrap();
    (Held::File(dir), jobs)
}

async fn postgres() -> (Held, lpdnn_jobs_postgres::PgJobs) {
    let server = tokio::task::spawn_blocking(|| Postgres::start().unwrap())
        .await
        .unwrap();
    let jobs = lpdnn_jobs_postgres::connect(&server.url()).await.unwrap();
    (Held::Server(server), jobs)
}

/// Each case, as a test on SQLite and one on PostgreSQL.
macro_rules! on_both {
    ($($([$($flavor:tt)*])? $case:ident),* $(,)?) => {
        mod on_sqlite {
            use super::*;
            $(
                #[tokio::test $(($($flavor)*))?]
                async fn $case() {
                    let (_held, q) = sqlite().await;
                    super::$case(q).await;
                }
            )*
        }
        mod on_postgres {
            use super::*;
            $(
                #[tokio::test $(($($flavor)*))?]
                async fn $case() {
                    let (_held, q) = postgres().await;
                    super::$case(q).await;
                }
            )*
        }
    };
}

/// A store as the cases use it.
trait Store: DispatchStore + Clone {}
impl<S: DispatchStore + Clone> Store for S {}

on_both!(
    jobs_are_claimed_oldest_first_per_platform_and_completed_once,
    a_lapsed_lease_requeues_the_job_and_the_old_worker_cannot_write,
    a_job_whose_workers_keep_dying_fails_as_infra_error,
    cancelling_stops_the_worker_and_only_active_jobs_cancel,
    a_job_nobody_takes_fails_when_its_queue_time_runs_out,
    [flavor = "multi_thread", worker_threads = 4]
    many_workers_claiming_at_once_take_each_job_exactly_once,
    a_submission_wakes_a_waiting_worker,
    [flavor = "multi_thread", worker_threads = 4]
    the_quota_is_checked_as_the_job_is_queued_even_when_many_submit_at_once,
    an_owners_jobs_are_listed_newest_first_and_no_one_elses,
    a_job_is_claimed_by_id_once_and_its_spare_deliveries_run_nothing,
    every_run_is_recorded_with_its_worker_and_how_it_ended,
    an_upload_is_recorded_once_with_its_size_and_last_use,
    a_groups_jobs_are_queued_together_or_not_at_all,
);

const LONG: Duration = Duration::from_secs(60);

async fn jobs_are_claimed_oldest_first_per_platform_and_completed_once<S: Store>(q: S) {
    let a = q.submit(new_job("x86_64")).await.unwrap();
    let b = q.submit(new_job("x86_64")).await.unwrap();
    let _arm = q.submit(new_job("aarch64")).await.unwrap();
    assert_eq!(a.status, JobStatus::Queued);
    assert_eq!(q.queued_for("x86_64", "default").await.unwrap(), 2);
    assert_eq!(q.active_for("alice").await.unwrap(), 3);

    let (lease, job) = q
        .claim("w1", "x86_64", "default", LONG)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job.id, a.id);
    assert_eq!((job.status, job.attempts), (JobStatus::Running, 1));
    assert_eq!(job.worker.as_deref(), Some("w1"));
    let (lease_b, _) = q
        .claim("w2", "x86_64", "default", LONG)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(lease_b.job, b.id);
    assert!(q
        .claim("w3", "x86_64", "default", LONG)
        .await
        .unwrap()
        .is_none());

    q.renew(&lease, LONG, Some("{\"phase\":\"steady\"}"))
        .await
        .unwrap();
    assert_eq!(
        q.progress(&a.id).await.unwrap().as_deref(),
        Some("{\"phase\":\"steady\"}")
    );
    let passed = Outcome::Passed {
        report: "{\"runs\":[]}".into(),
    };
    assert!(q.complete(&lease, passed.clone()).await.unwrap());
    // A second completion (a duplicate delivery) writes nothing.
    assert!(!q.complete(&lease, passed).await.unwrap());
    let done = q.get(&a.id).await.unwrap();
    assert_eq!(
        (done.status, done.result),
        (JobStatus::Completed, Some(JobResult::Passed))
    );
    assert_eq!(
        q.report(&a.id).await.unwrap().as_deref(),
        Some("{\"runs\":[]}")
    );
    let rows = q.passed_since(0).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].0.id, a.id);
}

async fn a_lapsed_lease_requeues_the_job_and_the_old_worker_cannot_write<S: Store>(q: S) {
    let a = q.submit(new_job("x86_64")).await.unwrap();
    let (dead, _) = q
        .claim("w1", "x86_64", "default", Duration::from_millis(1))
        .await
        .unwrap()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let (lease, job) = q
        .claim("w2", "x86_64", "default", LONG)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((job.id.as_str(), job.attempts), (a.id.as_str(), 2));
    // The first worker comes back: its lease is gone, its result ignored.
    assert!(matches!(
        q.renew(&dead, LONG, None).await,
        Err(StoreError::LeaseLost(_))
    ));
    let failed = Outcome::Failed {
        kind: FailureKind::UserError,
        message: "stale".into(),
    };
    assert!(!q.complete(&dead, failed).await.unwrap());
    assert!(q
        .complete(
            &lease,
            Outcome::Passed {
                report: "{}".into()
            }
        )
        .await
        .unwrap());
    let done = q.get(&a.id).await.unwrap();
    assert_eq!(done.result, Some(JobResult::Passed));
    assert_eq!(done.worker.as_deref(), Some("w2"));
}

async fn a_job_whose_workers_keep_dying_fails_as_infra_error<S: Store>(q: S) {
    let a = q.submit(new_job("x86_64")).await.unwrap();
    for worker in ["w1", "w2"] {
        q.claim(worker, "x86_64", "default", Duration::from_millis(1))
            .await
            .unwrap()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(q
        .claim("w3", "x86_64", "default", LONG)
        .await
        .unwrap()
        .is_none());
    let done = q.get(&a.id).await.unwrap();
    assert_eq!(done.status, JobStatus::Completed);
    assert_eq!(done.failure, Some(FailureKind::InfraError));
    assert!(done.message.unwrap().contains("2 run(s)"));
}

async fn cancelling_stops_the_worker_and_only_active_jobs_cancel<S: Store>(q: S) {
    let a = q.submit(new_job("x86_64")).await.unwrap();
    let (lease, _) = q
        .claim("w1", "x86_64", "default", LONG)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(q.cancel(&a.id).await.unwrap().status, JobStatus::Cancelled);
    assert!(matches!(
        q.renew(&lease, LONG, None).await,
        Err(StoreError::LeaseLost(_))
    ));
    assert!(!q
        .complete(
            &lease,
            Outcome::Passed {
                report: "{}".into()
            }
        )
        .await
        .unwrap());
    assert!(matches!(
        q.cancel(&a.id).await,
        Err(StoreError::Conflict {
            status: JobStatus::Cancelled,
            ..
        })
    ));
    assert!(matches!(q.get("nope").await, Err(StoreError::NotFound(_))));
}

async fn a_job_nobody_takes_fails_when_its_queue_time_runs_out<S: Store>(q: S) {
    let mut job = new_job("riscv64");
    job.queue_ttl = Duration::from_millis(1);
    let a = q.submit(job).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    // Any claim sweeps the queue.
    assert!(q
        .claim("w1", "x86_64", "default", LONG)
        .await
        .unwrap()
        .is_none());
    let done = q.get(&a.id).await.unwrap();
    assert_eq!(done.failure, Some(FailureKind::Timeout));
    assert!(done.message.unwrap().contains("platform riscv64"));
}

async fn many_workers_claiming_at_once_take_each_job_exactly_once<S: Store>(q: S) {
    let mut ids = HashSet::new();
    for _ in 0..200 {
        ids.insert(q.submit(new_job("x86_64")).await.unwrap().id);
    }
    let mut tasks = Vec::new();
    for w in 0..8 {
        let q = q.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            let worker = format!("w{w}");
            while let Some((lease, _)) = q.claim(&worker, "x86_64", "default", LONG).await.unwrap()
            {
                assert!(q
                    .complete(
                        &lease,
                        Outcome::Passed {
                            report: "{}".into()
                        }
                    )
                    .await
                    .unwrap());
                mine.push(lease.job);
            }
            mine
        }));
    }
    let mut claimed = Vec::new();
    for t in tasks {
        claimed.extend(t.await.unwrap());
    }
    assert_eq!(claimed.len(), 200);
    assert_eq!(claimed.into_iter().collect::<HashSet<_>>(), ids);
    assert_eq!(q.passed_since(0).await.unwrap().len(), 200);
}

async fn a_submission_wakes_a_waiting_worker<S: Store>(q: S) {
    let waiter = {
        let q = q.clone();
        tokio::spawn(async move {
            let start = std::time::Instant::now();
            q.wait_for_work(Duration::from_secs(30)).await;
            start.elapsed()
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    q.submit(new_job("x86_64")).await.unwrap();
    assert!(waiter.await.unwrap() < Duration::from_secs(10));
}

async fn the_quota_is_checked_as_the_job_is_queued_even_when_many_submit_at_once<S: Store>(q: S) {
    let limited = || NewJob {
        quota: Some(5),
        ..new_job("x86_64")
    };
    let tries: Vec<_> = (0..40)
        .map(|_| {
            let q = q.clone();
            tokio::spawn(async move { q.submit(limited()).await })
        })
        .collect();
    let mut results = Vec::new();
    for t in tries {
        results.push(t.await.unwrap());
    }
    let accepted = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(accepted, 5);
    for r in results.iter().filter(|r| r.is_err()) {
        let e = r.as_ref().unwrap_err();
        assert!(matches!(e, StoreError::Quota { quota: 5, .. }), "{e}");
        assert!(e.to_string().contains("alice has 5 jobs"), "{e}");
    }
    // Another owner has its own quota; an ended job frees a place.
    let bob = NewJob {
        owner: "bob".into(),
        ..limited()
    };
    q.submit(bob).await.unwrap();
    let (lease, _) = q
        .claim("w", "x86_64", "default", LONG)
        .await
        .unwrap()
        .unwrap();
    q.complete(
        &lease,
        Outcome::Passed {
            report: "{}".into(),
        },
    )
    .await
    .unwrap();
    q.submit(limited()).await.unwrap();
}

async fn an_owners_jobs_are_listed_newest_first_and_no_one_elses<S: Store>(q: S) {
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(q.submit(new_job("x86_64")).await.unwrap().id);
    }
    let mut bob = new_job("x86_64");
    bob.owner = "bob".into();
    let bobs = q.submit(bob).await.unwrap().id;
    let listed: Vec<String> = q
        .jobs_of("alice", 10)
        .await
        .unwrap()
        .into_iter()
        .map(|j| j.id)
        .collect();
    ids.reverse();
    assert_eq!(listed, ids);
    let two = q.jobs_of("alice", 2).await.unwrap();
    assert_eq!(two.len(), 2);
    assert_eq!(two[0].id, ids[0]);
    let only_bob = q.jobs_of("bob", 10).await.unwrap();
    assert_eq!(only_bob.len(), 1);
    assert_eq!(only_bob[0].id, bobs);
    assert!(q.jobs_of("carol", 10).await.unwrap().is_empty());
}

async fn a_job_is_claimed_by_id_once_and_its_spare_deliveries_run_nothing<S: Store>(q: S) {
    let a = q.submit(new_job("x86_64")).await.unwrap();
    // Not yet published: the reconciler hands it out, once recorded no more.
    let later = now_ms() + 60_000;
    let waiting = q.reconcile(later, 10).await.unwrap();
    let expected = Undispatched {
        id: a.id.clone(),
        platform: "x86_64".into(),
        profile: "default".into(),
        attempts: 0,
    };
    assert_eq!(waiting, vec![expected]);
    q.dispatched(&a.id, 0).await.unwrap();
    assert!(q.reconcile(later, 10).await.unwrap().is_empty());

    let Claimed::Taken(lease, job) = q.claim_job("w1", &a.id, LONG).await.unwrap() else {
        panic!("not taken");
    };
    assert_eq!((job.attempts, job.status), (1, JobStatus::Running));
    // The same message delivered again while w1 runs it: nothing to run.
    assert!(matches!(
        q.claim_job("w2", &a.id, LONG).await.unwrap(),
        Claimed::Held
    ));
    let passed = Outcome::Passed {
        report: "{}".into(),
    };
    assert!(q.complete(&lease, passed).await.unwrap());
    assert!(matches!(
        q.claim_job("w3", &a.id, LONG).await.unwrap(),
        Claimed::Ended(JobStatus::Completed)
    ));

    // A lapsed lease is taken over by the next delivery; after the last
    // run's lease lapses too, the job fails as infra_error.
    let b = q.submit(new_job("x86_64")).await.unwrap();
    let short = Duration::from_millis(1);
    assert!(matches!(
        q.claim_job("w1", &b.id, short).await.unwrap(),
        Claimed::Taken(..)
    ));
    tokio::time::sleep(Duration::from_millis(20)).await;
    let Claimed::Taken(_, job) = q.claim_job("w2", &b.id, short).await.unwrap() else {
        panic!("not taken over");
    };
    assert_eq!((job.attempts, job.worker.as_deref()), (2, Some("w2")));
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(matches!(
        q.claim_job("w3", &b.id, LONG).await.unwrap(),
        Claimed::Exhausted
    ));
    let failed = q.get(&b.id).await.unwrap();
    assert_eq!(failed.failure, Some(FailureKind::InfraError));
    assert!(failed.message.unwrap().contains("2 run(s)"));

    // A run that lost its worker is queued again and to be published again.
    let c = q.submit(new_job("x86_64")).await.unwrap();
    q.dispatched(&c.id, 0).await.unwrap();
    q.claim_job("w1", &c.id, short).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let waiting = q.reconcile(later, 10).await.unwrap();
    assert_eq!(waiting.len(), 1);
    assert_eq!(
        (waiting[0].id.as_str(), waiting[0].attempts),
        (c.id.as_str(), 1)
    );

    let d = q.submit(new_job("x86_64")).await.unwrap();
    q.cancel(&d.id).await.unwrap();
    assert!(matches!(
        q.claim_job("w1", &d.id, LONG).await.unwrap(),
        Claimed::Ended(JobStatus::Cancelled)
    ));
    assert!(matches!(
        q.claim_job("w1", "no-such-job", LONG).await,
        Err(StoreError::NotFound(_))
    ));
}

/// Each run's worker and end, first first.
async fn ends<S: Store>(q: &S, id: &str) -> Vec<(String, Option<RunEnd>, Option<FailureKind>)> {
    let runs = q.runs(id).await.unwrap();
    for (n, run) in runs.iter().enumerate() {
        assert_eq!(run.attempt as usize, n + 1);
        assert_eq!(run.ended_ms.is_some(), run.end.is_some(), "{run:?}");
        assert!(
            run.ended_ms.is_none_or(|end| end >= run.started_ms),
            "{run:?}"
        );
    }
    runs.into_iter()
        .map(|r| (r.worker, r.end, r.failure))
        .collect()
}

async fn every_run_is_recorded_with_its_worker_and_how_it_ended<S: Store>(q: S) {
    let run =
        |w: &str, end: Option<RunEnd>, failure: Option<FailureKind>| (w.to_owned(), end, failure);
    let short = Duration::from_millis(1);
    assert!(matches!(q.runs("nope").await, Err(StoreError::NotFound(_))));

    // Claimed by platform: the first worker's lease lapses, the second passes.
    let a = q.submit(new_job("x86_64")).await.unwrap();
    assert!(ends(&q, &a.id).await.is_empty());
    q.claim("w1", "x86_64", "default", short)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ends(&q, &a.id).await, vec![run("w1", None, None)]);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let (lease, _) = q
        .claim("w2", "x86_64", "default", LONG)
        .await
        .unwrap()
        .unwrap();
    let passed = Outcome::Passed {
        report: "{}".into(),
    };
    assert!(q.complete(&lease, passed).await.unwrap());
    assert_eq!(
        ends(&q, &a.id).await,
        vec![
            run("w1", Some(RunEnd::Lapsed), None),
            run("w2", Some(RunEnd::Passed), None)
        ]
    );

    // Claimed by id: taken over once, then its last lease lapses too.
    let b = q.submit(new_job("x86_64")).await.unwrap();
    q.claim_job("w1", &b.id, short).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    q.claim_job("w2", &b.id, short).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(matches!(
        q.claim_job("w3", &b.id, LONG).await.unwrap(),
        Claimed::Exhausted
    ));
    assert_eq!(
        ends(&q, &b.id).await,
        vec![
            run("w1", Some(RunEnd::Lapsed), None),
            run("w2", Some(RunEnd::Lapsed), None)
        ]
    );

    // A worker's failure keeps its kind; a cancellation ends the run.
    let c = q.submit(new_job("x86_64")).await.unwrap();
    let Claimed::Taken(lease, _) = q.claim_job("w1", &c.id, LONG).await.unwrap() else {
        panic!("not taken");
    };
    let failed = Outcome::Failed {
        kind: FailureKind::UserError,
        message: "the model does not load".into(),
    };
    assert!(q.complete(&lease, failed).await.unwrap());
    let d = q.submit(new_job("x86_64")).await.unwrap();
    q.claim_job("w2", &d.id, LONG).await.unwrap();
    q.cancel(&d.id).await.unwrap();
    assert_eq!(
        ends(&q, &c.id).await,
        vec![run(
            "w1",
            Some(RunEnd::Failed),
            Some(FailureKind::UserError)
        )]
    );
    assert_eq!(
        ends(&q, &d.id).await,
        vec![run("w2", Some(RunEnd::Cancelled), None)]
    );
}

async fn an_upload_is_recorded_once_with_its_size_and_last_use<S: Store>(q: S) {
    let sha = "cd".repeat(32);
    assert_eq!(q.upload_record(&sha).await.unwrap(), None);
    q.record_upload(&sha, 1234).await.unwrap();
    let first = q.upload_record(&sha).await.unwrap().unwrap();
    assert_eq!((first.sha256.as_str(), first.bytes), (sha.as_str(), 1234));
    assert_eq!(first.created_ms, first.used_ms);
    tokio::time::sleep(Duration::from_millis(5)).await;
    q.record_upload(&sha, 1234).await.unwrap();
    let again = q.upload_record(&sha).await.unwrap().unwrap();
    assert_eq!(again.created_ms, first.created_ms);
    assert!(again.used_ms > first.used_ms, "{again:?}");
}

fn cell(platform: &str) -> Cell {
    Cell {
        platform: platform.into(),
        profile: "default".into(),
        engine: lpdnn_baas_api::EngineName::OnnxRuntime,
        device: lpdnn_baas_api::Device::Cpu,
        threads: Some(2),
    }
}

async fn a_groups_jobs_are_queued_together_or_not_at_all<S: Store>(q: S) {
    let limited = |platform: &str| NewJob {
        quota: Some(3),
        ..new_job(platform)
    };
    let group = q
        .submit_group(NewGroup {
            owner: "alice".into(),
            cells: vec![
                NewCell::Queued(cell("x86_64"), Box::new(limited("x86_64"))),
                NewCell::Refused(cell("jetson"), "engine not offered there".into()),
                NewCell::Queued(cell("aarch64"), Box::new(limited("aarch64"))),
            ],
        })
        .await
        .unwrap();
    let read = q.group(&group.id).await.unwrap();
    assert_eq!(read, group);
    assert_eq!(read.owner, "alice");
    let platforms: Vec<&str> = read
        .cells
        .iter()
        .map(|c| c.cell.platform.as_str())
        .collect();
    assert_eq!(platforms, ["x86_64", "jetson", "aarch64"]);
    assert_eq!(read.cells[0].cell.threads, Some(2));
    assert!(read.cells[1].job.is_none());
    assert_eq!(
        read.cells[1].refused.as_deref(),
        Some("engine not offered there")
    );
    // Its jobs are ordinary jobs: each platform's worker takes its own.
    let (lease, job) = q
        .claim("w", "aarch64", "default", LONG)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(Some(job.id.as_str()), read.cells[2].job.as_deref());
    assert_eq!(q.active_for("alice").await.unwrap(), 2);
    // Two more jobs would pass alice's quota of 3: neither is queued, nor
    // the group.
    let over = q
        .submit_group(NewGroup {
            owner: "alice".into(),
            cells: vec![
                NewCell::Queued(cell("x86_64"), Box::new(limited("x86_64"))),
                NewCell::Queued(cell("x86_64"), Box::new(limited("x86_64"))),
            ],
        })
        .await
        .unwrap_err();
    assert!(matches!(over, StoreError::Quota { quota: 3, .. }), "{over}");
    assert_eq!(q.active_for("alice").await.unwrap(), 2);
    assert_eq!(q.jobs_of("alice", 10).await.unwrap().len(), 2);
    q.complete(
        &lease,
        Outcome::Passed {
            report: "{}".into(),
        },
    )
    .await
    .unwrap();
    let missing = q.group("no-such-group").await.unwrap_err();
    assert!(matches!(missing, StoreError::NotFound(_)), "{missing}");
}
