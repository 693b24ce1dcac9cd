//! An `AgentCoreApp` on a loopback port: in the caller's runtime for tests and the harness, or
//! on a runtime of its own for benches that must tell the server's CPU from the load's.

use std::future::Future;
use std::net::SocketAddr;

use agent_server::AgentCoreApp;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A served app; asked to stop when dropped.
pub struct LocalServer {
    /// Where it listens: 127.0.0.1 and an ephemeral port.
    pub address: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl LocalServer {
    /// Serves `app` on 127.0.0.1 at an ephemeral port, in the current runtime.
    pub async fn start(app: AgentCoreApp) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(app.serve(listener, async {
            let _ = stopped.await;
        }));
        Ok(Self {
            address,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:PORT` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Asks the server to stop: it closes its listener and finishes what is in flight.
    pub fn request_stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// True once serving has returned, which is when a real process would exit.
    pub fn has_stopped(&self) -> bool {
        self.task.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Asks the server to stop and waits until it has, with what serving returned.
    pub async fn shut_down(mut self) -> std::io::Result<()> {
        self.request_stop();
        match self.task.take() {
            Some(task) => task.await.map_err(std::io::Error::other)?,
            None => Ok(()),
        }
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        self.request_stop();
    }
}

/// Runs the server `serve` starts on a loopback listener, on a 2-thread runtime of its own whose
/// threads are named `thread_name` (so their CPU can be read apart); returns its address. It
/// serves until the process ends.
pub fn serve_on_own_runtime<F, Fut>(
    thread_name: &'static str,
    serve: F,
) -> (SocketAddr, std::thread::JoinHandle<()>)
where
    F: FnOnce(tokio::net::TcpListener) -> Fut + Send + 'static,
    Fut: Future<Output = std::io::Result<()>>,
{
    let (sender, receiver) = std::sync::mpsc::channel();
    let handle = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name(thread_name)
            .enable_all()
            .build()
            .expect("a runtime for the server");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("a loopback port");
            let _ = sender.send(listener.local_addr().expect("its address"));
            serve(listener).await.expect("serving");
        });
    });
    let address = receiver.recv().expect("the server's address");
    (address, handle)
}
