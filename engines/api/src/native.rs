//! Finding and opening engines' native libraries at run time, so that a
//! machine without them still builds and runs the rest.

use std::path::{Path, PathBuf};

/// The host's cache folder: `$LPDNN_CACHE`, else `~/.cache/lpdnn`. The
/// set-up script installs native engine libraries under it.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("LPDNN_CACHE") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".cache/lpdnn")
}

/// The deployment package this binary runs from: the folder above the
/// binary's when it holds a `package.yml` (`bin/lpdnn-host` of a package).
pub fn package_root() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let root = exe.parent()?.parent()?;
    root.join("package.yml").is_file().then(|| root.to_owned())
}

/// Finds a native library: the file named by the first set variable of
/// `env_vars`, else `packaged` in the deployment package this binary runs
/// from, else `default` under [`cache_dir`]. The error says where it looked
/// and how to install it (`install`).
pub fn locate_library(
    env_vars: &[&str],
    packaged: &str,
    default: &str,
    install: &str,
) -> Result<PathBuf, String> {
    for var in env_vars {
        if let Some(p) = std::env::var_os(var) {
            let p = PathBuf::from(p);
            return if p.is_file() {
                Ok(p)
            } else {
                Err(format!(
                    "${var} names {}, which does not exist",
                    p.display()
                ))
            };
        }
    }
    if let Some(p) = package_root().map(|r| r.join(packaged)) {
        if p.is_file() {
            return Ok(p);
        }
    }
    let p = cache_dir().join(default);
    if p.is_file() {
        Ok(p)
    } else {
        Err(format!(
            "{} not found (set {} to the library); {install}",
            p.display(),
            env_vars.join(" or ")
        ))
    }
}

/// An opened native library that stays loaded for the life of the process
/// (engines hand out raw pointers into it).
#[derive(Debug)]
pub struct NativeLibrary {
    /// Where it was loaded from.
    pub path: PathBuf,
    /// The library.
    pub library: &'static libloading::Library,
}

impl NativeLibrary {
    /// Opens `path` and leaks the handle: unloading a C++ runtime with live
    /// threads or static destructors is a crash waiting to happen.
    pub fn open(path: &Path) -> Result<NativeLibrary, String> {
        // SAFETY: loading a library runs its initialisers. The libraries
        // opened here are the engines' own, found by `locate_library`.
        let library = unsafe { libloading::Library::new(path) }
            .map_err(|e| format!("cannot load {}: {e}", path.display()))?;
        Ok(NativeLibrary {
            path: path.to_owned(),
            library: Box::leak(Box::new(library)),
        })
    }

    /// Looks up a function pointer of type `T` by name.
    ///
    /// # Safety
    /// `T` must be the function's true C signature.
    pub unsafe fn get<T: Copy>(&self, name: &str) -> Result<T, String> {
        // SAFETY: forwarded to the caller.
        unsafe { self.library.get::<T>(name.as_bytes()) }
            .map(|s| *s)
            .map_err(|e| format!("{}: missing symbol {name}: {e}", self.path.display()))
    }
}

/// Runs `f` with the process's standard error (file descriptor 2) sent to
/// a temporary file, and returns what was written there meanwhile.
///
/// Native engine libraries log to fd 2 with no API to quiet them (LiteRT
/// prints `INFO: Created TensorFlow Lite XNNPACK delegate for CPU.` on
/// every load). The caller decides what to pass on. Writes by other
/// threads in that window are captured too, so keep `f` short and pass on
/// whatever is not the library's chatter. If fd 2 cannot be redirected,
/// `f` runs unchanged and nothing is captured.
pub fn capture_stderr<T>(f: impl FnOnce() -> T) -> (T, String) {
    use std::io::{Read, Seek, SeekFrom, Write};
    use std::os::fd::AsRawFd;
    use std::sync::Mutex;

    /// Puts fd 2 back, even if `f` panics.
    struct Restore(i32);
    impl Drop for Restore {
        fn drop(&mut self) {
            // SAFETY: `self.0` is the duplicate of fd 2 taken below, still open.
            unsafe {
                libc::dup2(self.0, 2);
                libc::close(self.0);
            }
        }
    }
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let _ = std::io::stderr().flush();
    let Ok(mut file) = tempfile::tempfile() else {
        return (f(), String::new());
    };
    // SAFETY: dup of fd 2, which is open for the whole process.
    let saved = unsafe { libc::dup(2) };
    // SAFETY: `file` is open for this call; fd 2 is restored by `Restore`.
    if saved < 0 || unsafe { libc::dup2(file.as_raw_fd(), 2) } < 0 {
        if saved >= 0 {
            // SAFETY: `saved` was just opened by dup.
            unsafe { libc::close(saved) };
        }
        return (f(), String::new());
    }
    let value = {
        let _restore = Restore(saved);
        f()
    };
    let mut bytes = Vec::new();
    if file.seek(SeekFrom::Start(0)).is_ok() {
        let _ = file.take(64 * 1024).read_to_end(&mut bytes);
    }
    (value, String::from_utf8_lossy(&bytes).into_owned())
}

/// Runs a native library's `load` with its fd-2 chatter captured: on
/// success the lines `keep` accepts are passed on to stderr; on failure they
/// are added to the error message, where they usually say what went wrong
/// (`layer load_param 25 LSTM_28 failed`).
pub fn load_quietly<T>(
    library: &str,
    keep: impl Fn(&str) -> bool,
    load: impl FnOnce() -> Result<T, String>,
) -> Result<T, String> {
    let (loaded, logged) = capture_stderr(load);
    let kept: Vec<&str> = logged
        .lines()
        .filter(|l| !l.trim().is_empty() && keep(l))
        .collect();
    match loaded {
        Ok(value) => {
            for line in kept {
                eprintln!("{line}");
            }
            Ok(value)
        }
        Err(mut message) => {
            if !kept.is_empty() {
                message.push_str(&format!(" ({library}: {})", kept.join(" | ")));
            }
            Err(message)
        }
    }
}

thread_local! {
    /// How many [`contain`] calls this thread is inside.
    static CONTAINING: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Installs, once, a panic hook that stays silent for a panic [`contain`]
/// catches (its text goes into the error) and calls the hook it replaced
/// for every other panic.
fn silence_contained_panics() {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if CONTAINING.with(|c| c.get()) == 0 {
                previous(info);
            }
        }));
    });
}

/// Runs engine-library code that may panic on a hostile model (tract
/// panics on a 2^53-byte allocation a ~110-byte ONNX file asks for), and
/// turns a panic into an error message instead of ending the host. The
/// panic's text is in the error only: nothing reaches the terminal.
pub fn contain<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    silence_contained_panics();
    struct Inside;
    impl Drop for Inside {
        fn drop(&mut self) {
            CONTAINING.with(|c| c.set(c.get() - 1));
        }
    }
    CONTAINING.with(|c| c.set(c.get() + 1));
    let inside = Inside;
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    drop(inside);
    caught.map_err(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".into());
        format!("the engine library panicked: {message}")
    })
}
