//! The stop signal every background task of an instance listens to.
//!
//! `Application::run_until_signal` raises it on SIGTERM or SIGINT. Loops that
//! sleep between passes (the sync worker, the target indexer, the model refresher)
//! wait on [`Stop::stopped`] beside their sleep, so they end at a pass boundary
//! instead of being cut mid-transaction when the runtime goes away. A low module:
//! it imports nothing of mama's.
use tokio::sync::watch;

/// Raises the stop signal (held by the application).
#[derive(Debug)]
pub struct Trigger(watch::Sender<bool>);

/// A listener for the stop signal; cheap to clone, one per task.
#[derive(Debug, Clone)]
pub struct Stop(watch::Receiver<bool>);

/// A new signal, not raised.
pub fn channel() -> (Trigger, Stop) {
    let (tx, rx) = watch::channel(false);
    (Trigger(tx), Stop(rx))
}

impl Trigger {
    /// Raises the signal: every [`Stop::stopped`] returns.
    pub fn stop(&self) {
        let _ = self.0.send(true);
    }
    /// Another listener.
    pub fn listener(&self) -> Stop {
        Stop(self.0.subscribe())
    }
}

impl Stop {
    /// A signal that is never raised (tools and tests that run a task alone).
    pub fn never() -> Stop {
        channel().1
    }
    /// Whether the signal was raised.
    pub fn is_stopped(&self) -> bool {
        *self.0.borrow()
    }
    /// Returns once the signal is raised. A trigger dropped without raising it
    /// never stops anyone (an application dropped unrun is no shutdown).
    pub async fn stopped(&mut self) {
        if self.0.wait_for(|s| *s).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
    /// Sleeps `d`; returns `true` when the signal was raised first.
    pub async fn sleep(&mut self, d: std::time::Duration) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(d) => self.is_stopped(),
            _ = self.stopped() => true,
        }
    }
}

/// Waits for SIGTERM or SIGINT; answers which one came.
pub async fn signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = tokio::signal::ctrl_c() => "SIGINT",
            },
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                "SIGINT"
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "SIGINT"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_sleeping_listener_wakes_when_the_signal_is_raised() {
        let (t, mut s) = channel();
        assert!(!s.is_stopped());
        assert!(!s.sleep(Duration::from_millis(5)).await);
        let waiter = tokio::spawn(async move { s.sleep(Duration::from_secs(60)).await });
        t.stop();
        let woke = tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("woke before its sleep ended")
            .unwrap();
        assert!(woke);
        assert!(t.listener().is_stopped());
    }
}
