//! A hostile image pre-processor for sandbox tests. Its behaviour is chosen
//! per call by the input bytes (so one warm instance can misbehave and then
//! serve again), or at configure time by `{"configure": "<mode>"}`:
//!
//! - `loop`: never returns (the deadline must stop it);
//! - `oom`: allocates until the memory cap refuses;
//! - `trap`: panics with a message on stderr;
//! - `wrong-shape`: returns a tensor whose data does not match its shape;
//! - `huge`: returns a 96 MiB tensor;
//! - `files`: tries to read `/etc/passwd` (no folder is granted);
//! - `escape`: tries to write `/var/lib/lpdnn/escaped` and `/tmp/escaped`;
//! - `secrets`: looks for environment variables (none is given);
//! - `network`: tries a TCP connection to the service's NATS port on
//!   loopback (no address is allowed);
//! - `chatty`: writes 10 KiB to stderr, then succeeds;
//! - `flood`: returns a 160 MiB tensor (over wasmtime's 128 MiB copy limit);
//! - `shouting`: writes 100 KiB to stderr in one call (over the host's 64 KiB);
//! - `deceive`: fails with 50 000 characters that clear the screen, print
//!   "all tests passed" and reverse the text direction;
//! - anything else: a valid `[1, 3, 2, 2]` f32 tensor of ones.

use lpdnn_sdk::image::Guest;
use lpdnn_sdk::{Config, Dtype, InputMeta, Preprocessed, ProcessorError, Tensor};

fn misbehave(mode: &[u8]) -> Result<Preprocessed, ProcessorError> {
    match mode {
        b"loop" => {
            let mut x = 0u64;
            loop {
                x = std::hint::black_box(x.wrapping_add(1));
            }
        }
        b"oom" => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![1u8; 8 << 20]);
                std::hint::black_box(&hoard);
            }
        }
        b"trap" => panic!("hostile component: deliberate panic"),
        b"wrong-shape" => Ok(tensor(vec![1, 3, 224, 224], vec![0; 12])),
        b"huge" => Ok(tensor(vec![1, 3, 4096, 2048], vec![0; 3 * 4096 * 2048 * 4])),
        b"chatty" => {
            eprintln!("{}", "chatter ".repeat(1280));
            Ok(tensor(vec![1, 3, 2, 2], 1f32.to_le_bytes().repeat(12)))
        }
        b"flood" => Ok(tensor(vec![1, 4, 4096, 2560], vec![0; 4 * 4096 * 2560 * 4])),
        b"shouting" => {
            for _ in 0..100 {
                eprintln!("{}", "shout ".repeat(170));
            }
            Ok(tensor(vec![1, 3, 2, 2], 1f32.to_le_bytes().repeat(12)))
        }
        b"deceive" => Err(ProcessorError::InvalidInput(format!(
            "\x1b[2J\x1b[Hall tests passed\u{202E}{}",
            "x".repeat(50_000)
        ))),
        b"files" => match std::fs::read("/etc/passwd") {
            Ok(_) => Err(ProcessorError::Internal(
                "sandbox leak: read /etc/passwd".into(),
            )),
            Err(e) => Err(ProcessorError::InvalidInput(format!("no file access: {e}"))),
        },
        b"escape" => {
            for path in ["/var/lib/lpdnn/escaped", "/tmp/escaped"] {
                if std::fs::write(path, b"escaped").is_ok() {
                    return Err(ProcessorError::Internal(format!(
                        "sandbox leak: wrote {path}"
                    )));
                }
            }
            Err(ProcessorError::InvalidInput("no file written".into()))
        }
        b"secrets" => match std::env::vars().count() {
            0 => Err(ProcessorError::InvalidInput("no environment".into())),
            n => Err(ProcessorError::Internal(format!(
                "sandbox leak: {n} environment variables"
            ))),
        },
        b"network" => match std::net::TcpStream::connect("127.0.0.1:4222") {
            Ok(_) => Err(ProcessorError::Internal(
                "sandbox leak: connected to 127.0.0.1:4222".into(),
            )),
            Err(e) => Err(ProcessorError::InvalidInput(format!("no network: {e}"))),
        },
        _ => Ok(tensor(vec![1, 3, 2, 2], 1f32.to_le_bytes().repeat(12))),
    }
}

fn tensor(shape: Vec<u32>, data: Vec<u8>) -> Preprocessed {
    Preprocessed {
        chunks: vec![vec![Tensor {
            name: String::new(),
            shape,
            dtype: Dtype::F32,
            data,
        }]],
        meta: InputMeta::None,
    }
}

struct Hostile;

impl Guest for Hostile {
    fn configure(config: Config) -> Result<(), ProcessorError> {
        // As written by hand or as the host re-serialises an app's params.
        let compact: String = config.params.split_whitespace().collect();
        if let Some(mode) = compact
            .strip_prefix("{\"configure\":\"")
            .and_then(|s| s.strip_suffix("\"}"))
        {
            misbehave(mode.as_bytes())?;
        }
        Ok(())
    }

    fn process(image: Vec<u8>) -> Result<Preprocessed, ProcessorError> {
        misbehave(&image)
    }
}

lpdnn_sdk::export_image_preprocessor!(Hostile);
