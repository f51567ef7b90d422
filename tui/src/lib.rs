//! # drydock-tui: watch and steer a simulation live
//!
//! The Elm Architecture: [`app`] is the model (with the one [`app::Message`] enum),
//! [`update::update`] the only place it changes, [`view`] pure render functions of
//! `&App`. The simulation runs on its own thread ([`sim_thread`]) and sends
//! [`snapshot::Snapshot`]s as messages; the UI sends it [`app::SimCommand`]s. No shared
//! mutable state.
#![deny(missing_docs)]

pub mod app;
pub mod event;
pub mod sim_thread;
pub mod snapshot;
pub mod update;
pub mod view;

use std::io;

pub use app::{App, Command, Message};
pub use snapshot::Driver;

/// The compared run of the A/B view: its driver and the labels of both runs.
pub struct Compare {
    /// Run B.
    pub driver: Driver,
    /// Label of run A (the setting's value in A).
    pub label_a: String,
    /// Label of run B (the changed setting).
    pub label_b: String,
}

/// Runs the terminal UI on `driver` (and side by side with `compare`, if given) until the user
/// quits. The terminal is restored on exit, on error and on panic (ratatui's panic hook).
///
/// # Errors
/// Terminal I/O errors.
pub fn run(driver: Driver, compare: Option<Compare>) -> io::Result<()> {
    let mut app = App::new(driver.snapshot());
    let b = compare.map(|c| {
        app.snap_b = Some(Box::new(c.driver.snapshot()));
        app.label_a = c.label_a;
        app.label_b = c.label_b;
        c.driver
    });
    let (to_ui, from_sim) = std::sync::mpsc::channel();
    let (to_sim, handle) = sim_thread::spawn(driver, b, to_ui);
    let mut terminal = ratatui::init();
    // Mouse clicks select nodes and panes. ratatui's panic hook restores raw mode and the
    // screen but not mouse capture, so a hook in front of it turns capture off first.
    let ratatui_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let _ = ratatui::crossterm::execute!(
            io::stdout(),
            ratatui::crossterm::event::DisableMouseCapture
        );
        ratatui_hook(info);
    }));
    let _ =
        ratatui::crossterm::execute!(io::stdout(), ratatui::crossterm::event::EnableMouseCapture);
    let result = event::run_loop(&mut terminal, &mut app, &from_sim, &to_sim);
    let _ =
        ratatui::crossterm::execute!(io::stdout(), ratatui::crossterm::event::DisableMouseCapture);
    ratatui::restore();
    let _ = to_sim.send(app::SimCommand::Quit);
    drop(from_sim);
    let _ = handle.join();
    result
}
