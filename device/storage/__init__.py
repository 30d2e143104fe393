"""What goes on the card: safe writes, the journal, and the event store that uses both."""
