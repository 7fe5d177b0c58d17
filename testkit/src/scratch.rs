//! Names, directories and ports of one test run.

use std::net::TcpListener;

/// A name for one test run's topics and files: `<prefix><pid>x<ms since the epoch>`.
pub fn run_id(prefix: &str) -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis();
    format!("{prefix}{}x{ms}", std::process::id())
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// A fresh, empty directory under the system's temporary directory, named after a new run id.
pub fn scratch_dir(prefix: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(run_id(prefix));
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}
