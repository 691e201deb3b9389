//! One layer: a gzip-compressed tar written to a file while both digests
//! are taken (the blob's, of the compressed bytes; the `diff_id`, of the
//! tar itself). Every entry gets one modification time and root's owner
//! unless told otherwise, so the same inputs give the same layer.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use flate2::write::GzEncoder;
use flate2::Compression;
use sha2::{Digest, Sha256};
use tar::{EntryType, Header};

/// A writer that hashes and counts what passes through it.
struct Hashing<W> {
    inner: W,
    hash: Sha256,
    bytes: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<W> Hashing<W> {
    fn new(inner: W) -> Self {
        Hashing {
            inner,
            hash: Sha256::new(),
            bytes: 0,
        }
    }
}

/// A finished layer's blob.
#[derive(Debug, Clone)]
pub struct Blob {
    /// The file holding the compressed layer.
    pub path: PathBuf,
    /// SHA-256 of the compressed bytes, hex.
    pub digest: String,
    /// Compressed size.
    pub bytes: u64,
    /// SHA-256 of the uncompressed tar (the image config's `diff_id`), hex.
    pub diff_id: String,
}

/// Owner and mode of an entry the layer adds.
#[derive(Debug, Clone, Copy)]
pub struct Owner {
    /// User id.
    pub uid: u64,
    /// Group id.
    pub gid: u64,
}

impl Owner {
    /// root:root.
    pub const ROOT: Owner = Owner { uid: 0, gid: 0 };
}

/// A layer being written.
pub struct LayerWriter {
    tar: tar::Builder<Hashing<GzEncoder<Hashing<File>>>>,
    path: PathBuf,
    mtime: u64,
}

impl LayerWriter {
    /// Starts a layer in the file `path`; every entry gets `mtime`.
    pub fn create(path: &Path, mtime: u64) -> io::Result<LayerWriter> {
        let file = File::create(path)?;
        let gz = GzEncoder::new(Hashing::new(file), Compression::default());
        let mut tar = tar::Builder::new(Hashing::new(gz));
        tar.mode(tar::HeaderMode::Deterministic);
        tar.follow_symlinks(false);
        Ok(LayerWriter {
            tar,
            path: path.to_owned(),
            mtime,
        })
    }

    fn header(&self, kind: EntryType, mode: u32, owner: Owner, size: u64) -> Header {
        let mut h = Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_uid(owner.uid);
        h.set_gid(owner.gid);
        h.set_mtime(self.mtime);
        h.set_size(size);
        h
    }

    /// Adds a folder (`path` relative to `/`, no leading slash).
    pub fn dir(&mut self, path: &str, mode: u32, owner: Owner) -> io::Result<()> {
        let mut h = self.header(EntryType::Directory, mode, owner, 0);
        self.tar.append_data(&mut h, path, io::empty())
    }

    /// Adds a file with `data`.
    pub fn file(&mut self, path: &str, mode: u32, owner: Owner, data: &[u8]) -> io::Result<()> {
        let mut h = self.header(EntryType::Regular, mode, owner, data.len() as u64);
        self.tar.append_data(&mut h, path, data)
    }

    /// Adds the file at `source` (its permission bits kept).
    pub fn copy(&mut self, path: &str, source: &Path, owner: Owner) -> io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(source)?;
        let mode = meta.permissions().mode() & 0o755;
        let mut h = self.header(EntryType::Regular, mode, owner, meta.len());
        self.tar.append_data(&mut h, path, File::open(source)?)
    }

    /// Copies the entries of a root filesystem's tar that `keep` accepts
    /// (given each entry's path without `./`), with this layer's time;
    /// owners, modes and links as they are. Device nodes and FIFOs are
    /// left out: the container runtime makes `/dev`.
    pub fn copy_tar(
        &mut self,
        tar: impl Read,
        mut keep: impl FnMut(&str) -> bool,
    ) -> io::Result<u64> {
        let mut archive = tar::Archive::new(tar);
        let mut kept = 0;
        for entry in archive.entries()? {
            let mut entry = entry?;
            let path = entry.path()?.to_string_lossy().into_owned();
            let path = path.trim_start_matches("./").to_owned();
            let kind = entry.header().entry_type();
            if path.is_empty()
                || !matches!(
                    kind,
                    EntryType::Regular
                        | EntryType::Directory
                        | EntryType::Symlink
                        | EntryType::Link
                )
                || !keep(&path)
            {
                continue;
            }
            let mut h = entry.header().clone();
            h.set_mtime(self.mtime);
            match kind {
                EntryType::Symlink | EntryType::Link => {
                    let target = entry
                        .link_name()?
                        .ok_or_else(|| {
                            io::Error::other(format!("{path}: a link without a target"))
                        })?
                        .into_owned();
                    let target = if kind == EntryType::Link {
                        // A hard link names another entry of the tar.
                        PathBuf::from(target.to_string_lossy().trim_start_matches("./"))
                    } else {
                        target
                    };
                    self.tar.append_link(&mut h, &path, target)?;
                }
                _ => {
                    let size = entry.size();
                    h.set_size(size);
                    self.tar.append_data(&mut h, &path, &mut entry)?;
                }
            }
            kept += 1;
        }
        Ok(kept)
    }

    /// Ends the layer.
    pub fn finish(self) -> io::Result<Blob> {
        let hashing_tar = self.tar.into_inner()?;
        let diff_id = hex::encode(hashing_tar.hash.finalize());
        let mut hashing_file = hashing_tar.inner.finish()?;
        hashing_file.flush()?;
        hashing_file.inner.sync_all()?;
        Ok(Blob {
            path: self.path,
            digest: hex::encode(hashing_file.hash.finalize()),
            bytes: hashing_file.bytes,
            diff_id,
        })
    }
}
