//! A channel: one reading a monitor samples (name, unit, where from).

/// A channel's reader: `None` when it has no value this time.
pub(crate) type Read = Box<dyn FnMut() -> Option<f64>>;

/// A readable channel.
pub(crate) struct Channel {
    pub name: String,
    pub unit: &'static str,
    pub source: String,
    pub read: Read,
}
