"""The rows and what people do to them: tasks, listing, review, edit, delete, undo."""
