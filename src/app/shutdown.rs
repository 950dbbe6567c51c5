//! Ctrl-C and SIGTERM as one "stop" signal. The handlers are installed when a command starts,
//! before it binds or announces anything, so a signal that arrives while the command is still
//! starting up is a clean stop too, not the default action that kills the process mid-way.

/// The installed handlers; `wait` resolves on the first Ctrl-C or SIGTERM since `install`.
pub(super) struct Shutdown {
    #[cfg(unix)]
    signals: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl Shutdown {
    /// Registers the handlers now (needs a running tokio runtime).
    pub(super) fn install() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let signals = signal(SignalKind::interrupt())
                .and_then(|int| Ok((int, signal(SignalKind::terminate())?)))
                .ok();
            Shutdown { signals }
        }
        #[cfg(not(unix))]
        {
            Shutdown {}
        }
    }

    /// Resolves when the process is asked to stop.
    pub(super) async fn wait(&mut self) {
        #[cfg(unix)]
        if let Some((int, term)) = self.signals.as_mut() {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}
