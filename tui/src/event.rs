//! The event loop: terminal input and simulation messages in, `update`, draw.

use std::io;
use std::sync::mpsc::{Receiver, Sender};
use std::time::Duration;

use ratatui::DefaultTerminal;
use ratatui::crossterm::event::{self, Event};

use crate::app::{App, Command, Message, SimCommand};
use crate::update::update;
use crate::view;

/// Runs the UI until the user quits. The terminal must be initialised.
///
/// # Errors
/// Terminal I/O errors.
pub fn run_loop(
    terminal: &mut DefaultTerminal,
    app: &mut App,
    from_sim: &Receiver<Message>,
    to_sim: &Sender<SimCommand>,
) -> io::Result<()> {
    let size = terminal.size()?;
    app.size = (size.width, size.height);
    loop {
        terminal.draw(|f| view::draw(f, app))?;
        let mut msgs = Vec::new();
        if event::poll(Duration::from_millis(33))? {
            loop {
                match event::read()? {
                    Event::Key(k) => msgs.push(Message::Key(k)),
                    Event::Resize(w, h) => msgs.push(Message::Resize(w, h)),
                    Event::Mouse(m)
                        if m.kind == event::MouseEventKind::Down(event::MouseButton::Left) =>
                    {
                        msgs.push(Message::Click(m.column, m.row));
                    }
                    _ => {}
                }
                if !event::poll(Duration::ZERO)? {
                    break;
                }
            }
        }
        // Keep only the newest snapshot: older ones would be drawn over at once.
        let (mut snap, mut snap_b) = (None, None);
        while let Ok(m) = from_sim.try_recv() {
            match m {
                Message::Snapshot(_) => snap = Some(m),
                Message::SnapshotB(_) => snap_b = Some(m),
                other => msgs.push(other),
            }
        }
        for s in [snap, snap_b].into_iter().flatten() {
            msgs.insert(0, s);
        }
        msgs.push(Message::Tick);
        for m in msgs {
            match update(app, m) {
                Some(Command::Quit) => return Ok(()),
                Some(Command::Sim(c)) => {
                    // A closed channel means the sim thread ended; the UI stays usable.
                    let _ = to_sim.send(c);
                }
                None => {}
            }
        }
    }
}
