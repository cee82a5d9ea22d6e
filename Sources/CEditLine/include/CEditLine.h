#ifndef FIELD_CEDITLINE_H
#define FIELD_CEDITLINE_H

/// A thin wrapper over the system's libedit (BSD editline) for the session's
/// line editing and history. libedit's own API is variadic (el_set, history),
/// which Swift cannot call; these functions are the few calls `field` needs.

typedef struct field_editor field_editor;

/// What field_editor_read ended with.
typedef enum {
    FIELD_EDITOR_LINE = 0,      ///< a line was entered
    FIELD_EDITOR_CANCELLED = 1, ///< Ctrl-C: the line typed so far is dropped
    FIELD_EDITOR_END = 2,       ///< Ctrl-D on an empty line, or the end of input
    FIELD_EDITOR_FAILED = 3     ///< the terminal could not be edited
} field_editor_status;

/// An editor on standard input and output, emacs key bindings, `history_size`
/// lines of history. NULL if libedit cannot start (no terminal).
field_editor *field_editor_open(const char *program, int history_size);

/// Shows `prompt` and reads one line. Returns it (malloc'd, UTF-8, without
/// its newline; the caller frees it) with FIELD_EDITOR_LINE, else NULL.
/// Ctrl-C while typing ends the read with FIELD_EDITOR_CANCELLED (it is a
/// key then, not SIGINT; while a command runs it stops the program as usual).
char *field_editor_read(field_editor *editor, const char *prompt, field_editor_status *status);

/// Adds `line` to the history recalled by Up and Down.
void field_editor_remember(field_editor *editor, const char *line);

/// Restores the terminal and frees the editor.
void field_editor_close(field_editor *editor);

#endif
