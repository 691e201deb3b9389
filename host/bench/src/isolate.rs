//! One process per engine. Engines share nothing but the machine when a
//! benchmark runs several: each runs in a child process of its own, so that
//! the memory, threads and libraries an engine brings are its own, not also
//! the engines' that ran before it (ONNX Runtime peaked at 54 MiB alone and
//! at 67.5 MiB after LNE in one process), and a crash of one engine's
//! library ends that engine's run, not the benchmark.
//!
//! The child runs the same runner ([`crate::runner`]), anchors and monitors
//! as a run in one process; it streams what an [`Observer`] sees as JSON
//! lines on its standard output ([`CHILD_PREFIX`]), its result last. The
//! caller makes the child's command ([`Benchmark::run_isolated`]); the child
//! answers with [`Benchmark::serve_child`].
//!
//! [`Benchmark::run_isolated`]: crate::Benchmark::run_isolated
//! [`Benchmark::serve_child`]: crate::Benchmark::serve_child

use std::io::{BufRead, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::runner::{BenchConfig, Event, Observer, Phase, Sample};
use crate::BenchError;
use lpdnn_report::EngineRun;

/// What starts each line of the child's protocol on its standard output;
/// other lines (an engine library's own chatter) go to the caller's stderr.
pub const CHILD_PREFIX: &str = "lpdnn-engine-child ";

/// Progress events are sent at most this often (phase changes always): the
/// caller's parsing must not disturb the child's steady state.
const EVENT_EVERY: Duration = Duration::from_millis(100);

/// One line of the protocol.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "message", rename_all = "snake_case")]
enum Message {
    /// A phase begins.
    Phase { phase: PhaseName },
    /// Warm-up progress.
    Warmup {
        done: u64,
        elapsed_s: f64,
        last_ms: f64,
    },
    /// Steady-state progress.
    Steady {
        done: u64,
        total: Option<u64>,
        duration_s: Option<f64>,
        elapsed_s: f64,
        last_ms: f64,
    },
    /// One steady-state sample (only when the caller records them).
    Sample {
        iteration: u64,
        input: String,
        anchor: String,
        t_s: f64,
        real_ms: f64,
        cpu_ms: f64,
        alloc_bytes: u64,
    },
    /// The engine's run.
    Done { run: Box<EngineRun> },
    /// The engine's run failed.
    Failed { failure: Failure },
}

/// [`Phase`] on the wire.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum PhaseName {
    Load,
    Warmup,
    Steady,
    Layers,
    Check,
}

impl From<Phase> for PhaseName {
    fn from(p: Phase) -> Self {
        match p {
            Phase::Load => PhaseName::Load,
            Phase::Warmup => PhaseName::Warmup,
            Phase::Steady => PhaseName::Steady,
            Phase::Layers => PhaseName::Layers,
            Phase::Check => PhaseName::Check,
        }
    }
}

impl From<PhaseName> for Phase {
    fn from(p: PhaseName) -> Self {
        match p {
            PhaseName::Load => Phase::Load,
            PhaseName::Warmup => Phase::Warmup,
            PhaseName::Steady => Phase::Steady,
            PhaseName::Layers => Phase::Layers,
            PhaseName::Check => Phase::Check,
        }
    }
}

/// A failed run on the wire: the error's text, and what the caller needs to
/// advise (a bare model's missing input sizes).
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Failure {
    /// [`BenchError::InputShape`].
    InputShape {
        model: PathBuf,
        message: String,
        example: Option<String>,
    },
    /// Any other error, as one line.
    Other { error: String },
}

impl From<&BenchError> for Failure {
    fn from(e: &BenchError) -> Self {
        match e {
            BenchError::InputShape {
                model,
                message,
                example,
            } => Failure::InputShape {
                model: model.clone(),
                message: message.clone(),
                example: example.clone(),
            },
            other => Failure::Other {
                error: crate::error_chain(other),
            },
        }
    }
}

impl From<Failure> for BenchError {
    fn from(f: Failure) -> Self {
        match f {
            Failure::InputShape {
                model,
                message,
                example,
            } => BenchError::InputShape {
                model,
                message,
                example,
            },
            Failure::Other { error } => BenchError::InChild(error),
        }
    }
}

/// The child's [`Observer`]: every call becomes a line for the caller.
pub(crate) struct ChildObserver<'a> {
    out: &'a mut dyn Write,
    samples: bool,
    interrupted: &'a dyn Fn() -> bool,
    sent: Option<Instant>,
}

impl<'a> ChildObserver<'a> {
    pub(crate) fn new(
        out: &'a mut dyn Write,
        samples: bool,
        interrupted: &'a dyn Fn() -> bool,
    ) -> Self {
        ChildObserver {
            out,
            samples,
            interrupted,
            sent: None,
        }
    }

    /// Writes one line; `flush` sends it (and whatever samples wait in the
    /// buffer) now.
    fn send(&mut self, m: &Message, flush: bool) -> std::io::Result<()> {
        let json = serde_json::to_string(m).map_err(std::io::Error::other)?;
        writeln!(self.out, "{CHILD_PREFIX}{json}")?;
        if flush {
            self.out.flush()?;
        }
        Ok(())
    }

    /// Whether a progress event is due (at most one per [`EVENT_EVERY`]).
    fn due(&mut self) -> bool {
        let now = Instant::now();
        if self.sent.is_some_and(|s| now - s < EVENT_EVERY) {
            return false;
        }
        self.sent = Some(now);
        true
    }

    /// Sends the run's outcome, last.
    pub(crate) fn finish(&mut self, outcome: Result<EngineRun, BenchError>) -> std::io::Result<()> {
        let m = match outcome {
            Ok(run) => Message::Done { run: Box::new(run) },
            Err(e) => Message::Failed {
                failure: Failure::from(&e),
            },
        };
        self.send(&m, true)
    }
}

impl Observer for ChildObserver<'_> {
    fn event(&mut self, event: Event) {
        let m = match event {
            Event::Phase(p) => {
                self.sent = None;
                Message::Phase { phase: p.into() }
            }
            Event::Warmup {
                done,
                elapsed,
                last_ms,
                ..
            } => {
                if !self.due() {
                    return;
                }
                Message::Warmup {
                    done,
                    elapsed_s: elapsed.as_secs_f64(),
                    last_ms,
                }
            }
            Event::Steady {
                done,
                total,
                duration,
                elapsed,
                last_ms,
            } => {
                // The last iteration always reaches the caller's bar.
                if total != Some(done) && !self.due() {
                    return;
                }
                Message::Steady {
                    done,
                    total,
                    duration_s: duration.map(|d| d.as_secs_f64()),
                    elapsed_s: elapsed.as_secs_f64(),
                    last_ms,
                }
            }
        };
        // A caller that went away ends the child at its next write of the
        // result; progress lost on the way is of no use to anyone.
        let _ = self.send(&m, true);
    }

    fn sample(&mut self, s: &Sample) -> std::io::Result<()> {
        if !self.samples {
            return Ok(());
        }
        self.send(
            &Message::Sample {
                iteration: s.iteration,
                input: s.input.to_owned(),
                anchor: s.anchor.to_owned(),
                t_s: s.t_s,
                real_ms: s.real_ms,
                cpu_ms: s.cpu_ms,
                alloc_bytes: s.alloc_bytes,
            },
            false,
        )
    }

    fn interrupted(&self) -> bool {
        (self.interrupted)()
    }
}

/// What the reader thread hands the caller.
enum Line {
    Message(Box<Message>),
    /// A line that is not the protocol's, or not valid in it.
    Other(String),
}

/// Runs one engine in the child `command` starts (its standard input gets
/// `request`, then its end), feeding `observer` what
/// the child reports; the child is sent SIGINT once when the observer says
/// to stop (it then reports what it measured, as partial) and dies with
/// the caller (`PR_SET_PDEATHSIG`).
pub(crate) fn run_in_child(
    (mut command, request): (Command, Vec<u8>),
    engine: &str,
    config: &BenchConfig,
    observer: &mut dyn Observer,
) -> Result<EngineRun, BenchError> {
    command.stdin(Stdio::piped()).stdout(Stdio::piped());
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork
    // and exec.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let spawn_error =
        |e: std::io::Error| BenchError::ChildProcess(format!("cannot start its process: {e}"));
    let mut child = command.spawn().map_err(spawn_error)?;
    // The request, then end of input; a child that dies first makes the
    // write fail, and its exit says why.
    if let Some(mut stdin) = child.stdin.take() {
        std::thread::spawn(move || {
            let _ = stdin.write_all(&request);
        });
    }
    let stdout = child.stdout.take().expect("stdout is piped");
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let parsed = match line.strip_prefix(CHILD_PREFIX) {
                Some(json) => match serde_json::from_str::<Message>(json) {
                    Ok(m) => Line::Message(Box::new(m)),
                    Err(e) => Line::Other(format!("unreadable result line ({e}): {json:.200}")),
                },
                None => Line::Other(line),
            };
            if tx.send(parsed).is_err() {
                break;
            }
        }
    });

    let mut outcome: Option<Result<EngineRun, BenchError>> = None;
    let mut signalled = false;
    loop {
        if !signalled && observer.interrupted() {
            signalled = true;
            // SAFETY: a plain kill(2) of our own child, which we have not
            // reaped yet (its pid is still ours).
            unsafe {
                libc::kill(child.id() as libc::pid_t, libc::SIGINT);
            }
        }
        let line = match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(l) => l,
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        };
        let m = match line {
            Line::Message(m) => *m,
            Line::Other(text) => {
                eprintln!("{engine}: {text}");
                continue;
            }
        };
        match m {
            Message::Phase { phase } => observer.event(Event::Phase(phase.into())),
            Message::Warmup {
                done,
                elapsed_s,
                last_ms,
            } => observer.event(Event::Warmup {
                done,
                plan: &config.warmup,
                elapsed: secs(elapsed_s),
                last_ms,
            }),
            Message::Steady {
                done,
                total,
                duration_s,
                elapsed_s,
                last_ms,
            } => observer.event(Event::Steady {
                done,
                total,
                duration: duration_s.map(secs),
                elapsed: secs(elapsed_s),
                last_ms,
            }),
            Message::Sample {
                iteration,
                input,
                anchor,
                t_s,
                real_ms,
                cpu_ms,
                alloc_bytes,
            } => {
                let sample = Sample {
                    engine,
                    iteration,
                    input: &input,
                    anchor: &anchor,
                    t_s,
                    real_ms,
                    cpu_ms,
                    alloc_bytes,
                };
                if let Err(e) = observer.sample(&sample) {
                    // As in one process: the run ends with the error.
                    let _ = child.kill();
                    outcome = Some(Err(BenchError::Samples(e)));
                    break;
                }
            }
            Message::Done { run } => outcome = Some(Ok(*run)),
            Message::Failed { failure } => outcome = Some(Err(failure.into())),
        }
    }
    let status = child.wait().map_err(spawn_error)?;
    let _ = reader.join();
    outcome.unwrap_or_else(|| {
        let how = match (status.code(), status.signal()) {
            (Some(code), _) => format!("exit status {code}"),
            (None, Some(sig)) => format!("signal {sig} ({})", signal_name(sig)),
            _ => status.to_string(),
        };
        Err(BenchError::ChildProcess(format!(
            "its process ended ({how}) before it reported a result"
        )))
    })
}

fn secs(s: f64) -> Duration {
    Duration::try_from_secs_f64(s).unwrap_or_default()
}

/// The usual name of a signal that ends a crashed engine.
fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGSEGV => "SIGSEGV, a crash in the engine's library",
        libc::SIGABRT => "SIGABRT, the engine's library aborted",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGILL => "SIGILL, an instruction this CPU lacks",
        libc::SIGKILL => "SIGKILL, out of memory or killed",
        libc::SIGTERM => "SIGTERM",
        libc::SIGINT => "SIGINT",
        _ => "a signal",
    }
}
