#include "CEditLine.h"

#include <histedit.h>
#include <langinfo.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

struct field_editor {
    EditLine *line;
    History *history;
    const char *prompt;
    int cancelled;
};

static char *field_editor_prompt(EditLine *line) {
    field_editor *editor = NULL;
    el_get(line, EL_CLIENTDATA, &editor);
    return (char *)(editor && editor->prompt ? editor->prompt : "");
}

/// Ctrl-C: ends the read with no line (the line typed is dropped).
static unsigned char field_editor_cancel(EditLine *line, int key) {
    (void)key;
    field_editor *editor = NULL;
    el_get(line, EL_CLIENTDATA, &editor);
    if (editor) editor->cancelled = 1;
    return CC_EOF;
}

/// A special key the session has no use for: nothing happens.
static unsigned char field_editor_ignore(EditLine *line, int key) {
    (void)line;
    (void)key;
    return CC_NORM;
}

/// Tab: a space, as in a plain line (no completion of file names).
static unsigned char field_editor_space(EditLine *line, int key) {
    (void)key;
    el_insertstr(line, " ");
    return CC_REFRESH;
}

field_editor *field_editor_open(const char *program, int history_size) {
    // libedit decodes keys by the locale's character type: UTF-8 text must be
    // taken as characters even when the environment names no locale.
    if (!setlocale(LC_CTYPE, "") || strcmp(nl_langinfo(CODESET), "UTF-8") != 0) {
        setlocale(LC_CTYPE, "C.UTF-8");
    }
    field_editor *editor = calloc(1, sizeof *editor);
    if (!editor) return NULL;
    editor->line = el_init(program, stdin, stdout, stderr);
    editor->history = history_init();
    if (!editor->line || !editor->history) {
        field_editor_close(editor);
        return NULL;
    }
    HistEvent event;
    history(editor->history, &event, H_SETSIZE, history_size);
    history(editor->history, &event, H_SETUNIQUE, 1);
    el_set(editor->line, EL_CLIENTDATA, editor);
    el_set(editor->line, EL_EDITOR, "emacs");
    el_set(editor->line, EL_HIST, history, editor->history);
    el_set(editor->line, EL_PROMPT, field_editor_prompt);
    // libedit restores the terminal before a signal (SIGTERM, SIGHUP, SIGTSTP…)
    // acts, and redraws the line after SIGCONT and SIGWINCH.
    el_set(editor->line, EL_SIGNAL, 1);
    el_set(editor->line, EL_ADDFN, "field-space", "insert a space", field_editor_space);
    el_set(editor->line, EL_BIND, "^I", "field-space", NULL);
    // Ctrl-C is a key while a line is typed (not SIGINT): it drops the line.
    // Between lines, while a command runs, the terminal is back in its own
    // mode and Ctrl-C stops `field` as usual.
    el_set(editor->line, EL_SETTY, "-d", "-isig", NULL);
    el_set(editor->line, EL_ADDFN, "field-cancel", "drop the line", field_editor_cancel);
    el_set(editor->line, EL_BIND, "^C", "field-cancel", NULL);
    // Keys with no use here do nothing rather than leave the tail of their
    // escape sequence in the line (Insert, Page Up and Down, F1 to F12).
    el_set(editor->line, EL_ADDFN, "field-ignore", "ignore the key", field_editor_ignore);
    static const char *const unused[] = {
        "\033[2~", "\033[5~", "\033[6~", "\033OP", "\033OQ", "\033OR", "\033OS",
        "\033[11~", "\033[12~", "\033[13~", "\033[14~", "\033[15~", "\033[17~", "\033[18~",
        "\033[19~", "\033[20~", "\033[21~", "\033[23~", "\033[24~"};
    for (size_t i = 0; i < sizeof unused / sizeof unused[0]; i++) {
        el_set(editor->line, EL_BIND, unused[i], "field-ignore", NULL);
    }
    // Ctrl-Left and Ctrl-Right move by words.
    el_set(editor->line, EL_BIND, "\033[1;5D", "ed-prev-word", NULL);
    el_set(editor->line, EL_BIND, "\033[1;5C", "em-next-word", NULL);
    // The user's ~/.editrc, as other libedit programs read it.
    el_source(editor->line, NULL);
    return editor;
}

char *field_editor_read(field_editor *editor, const char *prompt, field_editor_status *status) {
    editor->prompt = prompt;
    editor->cancelled = 0;
    // Keys must reach libedit as keys from the moment the prompt shows, but
    // libedit takes the terminal for editing only once reading starts. Typed
    // in between, Ctrl-C would stop the program and Ctrl-D would be taken by
    // the terminal as the end of a line and lost (the session then waited
    // for ever: a run of the terminal test in five caught both). So the
    // terminal is made character-at-a-time, without signals or echo, for
    // the whole read, and put back as it was after it.
    struct termios saved;
    int restore = tcgetattr(STDIN_FILENO, &saved) == 0;
    if (restore) {
        struct termios quiet = saved;
        quiet.c_lflag &= ~(tcflag_t)(ISIG | ICANON | ECHO | IEXTEN);
        quiet.c_cc[VMIN] = 1;
        quiet.c_cc[VTIME] = 0;
        tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    }
    int count = 0;
    const char *typed = el_gets(editor->line, &count);
    if (restore) tcsetattr(STDIN_FILENO, TCSADRAIN, &saved);
    if (editor->cancelled) {
        el_reset(editor->line);
        *status = FIELD_EDITOR_CANCELLED;
        return NULL;
    }
    if (!typed || count <= 0) {
        *status = FIELD_EDITOR_END;
        return NULL;
    }
    size_t length = strlen(typed);
    while (length > 0 && (typed[length - 1] == '\n' || typed[length - 1] == '\r')) length--;
    char *copy = malloc(length + 1);
    if (!copy) {
        *status = FIELD_EDITOR_FAILED;
        return NULL;
    }
    memcpy(copy, typed, length);
    copy[length] = '\0';
    *status = FIELD_EDITOR_LINE;
    return copy;
}

void field_editor_remember(field_editor *editor, const char *line) {
    HistEvent event;
    history(editor->history, &event, H_ENTER, line);
}

void field_editor_close(field_editor *editor) {
    if (!editor) return;
    if (editor->line) el_end(editor->line);
    if (editor->history) history_end(editor->history);
    free(editor);
}
