//! Shared set-up: a sim hosted by the provider runtime, a server for it, clients.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use erpbridge_provider::Provider;
use erpbridge_provider::runtime::{HostedProvider, RuntimeOptions};
use erpbridge_remote::{RemoteConfig, RemoteProvider, RunningServer};
use erpbridge_sim::{Sim, SimConfig};

pub fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// The sim as the hub hosts it in-process (runtime, serial executor), ready.
pub async fn hosted_sim(config: SimConfig) -> (Sim, Arc<dyn Provider>) {
    let sim = Sim::new(config).unwrap();
    let options = RuntimeOptions {
        // The tests inject their own faults; a breaker opening would hide them.
        breaker_enabled: false,
        ..RuntimeOptions::default()
    };
    let hosted = HostedProvider::start(sim.factory(), options).unwrap();
    hosted.wait_ready().await;
    (sim, Arc::new(hosted))
}

pub async fn serve(provider: Arc<dyn Provider>) -> RunningServer {
    RunningServer::start(provider, loopback(), None)
        .await
        .unwrap()
}

pub fn client(url: &str, deadline: Duration) -> RemoteProvider {
    RemoteProvider::connect_lazy(RemoteConfig {
        deadline,
        connect_timeout: Duration::from_secs(2),
        ..RemoteConfig::new(url)
    })
    .unwrap()
}

/// A server on its own thread and runtime, which [`ServerThread::kill`] drops whole:
/// listener and every open connection close at once, as when the process dies.
pub struct ServerThread {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ServerThread {
    pub fn start(provider: Arc<dyn Provider>, addr: SocketAddr) -> Self {
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                tokio::spawn(erpbridge_remote::server::serve(
                    provider,
                    listener,
                    None,
                    std::future::pending(),
                ));
                let _ = stop_rx.await;
            });
            // Dropping the runtime here cancels the server and all connection tasks.
            runtime.shutdown_background();
        });
        let addr = addr_rx.recv().unwrap();
        Self {
            addr,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn kill(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
    }
}

impl Drop for ServerThread {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
