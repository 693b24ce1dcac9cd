//! How the runtime holds its listener: the connection [`edge`] (header timeout, connection cap,
//! accept errors) and the signals that [`shutdown`] it gracefully.

mod cgroup;
pub(crate) mod edge;
pub(crate) mod memory_limit;
pub(crate) mod shutdown;
