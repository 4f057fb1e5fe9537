//! The crate's one error type. Every fallible public function returns [`Result`]; the browser
//! facade maps each variant once to a JavaScript `Error` with a stable `code` ([`Error::code`]).

use std::path::PathBuf;

/// Everything that can go wrong in fusionrec, with enough context to act on it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}:{line}: {message}")]
    Parse {
        file: String,
        line: usize,
        message: String,
    },
    #[error("checksum mismatch for {file}: expected sha256 {expected}, found {actual}")]
    Checksum {
        file: String,
        expected: String,
        actual: String,
    },
    #[error(
        "bundle format version {found} is not supported (this build reads versions 1 to {supported})"
    )]
    BundleVersion { found: u32, supported: u32 },
    #[error("invalid bundle: {0}")]
    Bundle(String),
    #[error("unknown user id '{0}'")]
    UnknownUser(String),
    #[error("unknown item id '{0}'")]
    UnknownItem(String),
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("invalid data: {0}")]
    Data(String),
    #[error("cannot read image: {0}")]
    Image(String),
    #[error("invalid audio: {0}")]
    Audio(String),
    #[error("download failed: {0}")]
    Network(String),
    #[error("device unavailable: {0}")]
    Device(String),
    #[error("encoder: {0}")]
    Encoder(String),
    /// A weight file (an encoder's safetensors or `.pth`) that cannot be read or has the wrong
    /// tensors; a bundle's own weights are [`Error::Bundle`].
    #[error("invalid weights: {0}")]
    Weights(String),
    /// Over a limit the caller set (a bundle larger than a page's `maxBytes`).
    #[error("too large: {0}")]
    TooLarge(String),
}

impl Error {
    /// A stable, machine-readable code (also the `code` of the JavaScript error).
    pub fn code(&self) -> &'static str {
        match self {
            Error::Io { .. } => "IO",
            Error::Parse { .. } => "PARSE",
            Error::Checksum { .. } => "BUNDLE_CHECKSUM",
            Error::BundleVersion { .. } => "BUNDLE_VERSION",
            Error::Bundle(_) => "BUNDLE_INVALID",
            Error::UnknownUser(_) => "UNKNOWN_USER",
            Error::UnknownItem(_) => "UNKNOWN_ITEM",
            Error::Config(_) => "BAD_CONFIG",
            Error::Data(_) => "BAD_DATA",
            Error::Image(_) => "BAD_IMAGE",
            Error::Audio(_) => "BAD_AUDIO",
            Error::Network(_) => "NETWORK",
            Error::Device(_) => "DEVICE",
            Error::Encoder(_) => "ENCODER",
            Error::Weights(_) => "BAD_WEIGHTS",
            Error::TooLarge(_) => "TOO_LARGE",
        }
    }

    /// A file system error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
