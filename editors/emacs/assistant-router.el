;;; assistant-router.el --- Eglot client for assistant-router  -*- lexical-binding: t; -*-

;; Version: 0.1.0
;; Package-Requires: ((emacs "28.1") (eglot "1.9"))
;; Keywords: tools, languages, convenience

;;; Commentary:

;; assistant-router is a language server that offers AI coding tasks
;; (writing code, tests, fixes, reviews, explanations...) as ordinary
;; code actions and sends each task to the model that suits it.  The
;; tasks are the server's: this package keeps no list of them, and
;; reads the server's task table (see `assistant-router-task-table').
;;
;; Loading this file:
;;
;; - registers `assistant-router serve' in `eglot-server-programs' for
;;   the modes in `assistant-router-modes' (Python, JavaScript,
;;   TypeScript, Go, Rust, Java; add your own), so `M-x eglot' starts it;
;; - sends `assistant-router-initialization-options' at start-up;
;; - shows the outcome of the last task (model, status, time) in the
;;   mode line and the echo area, from the server's `assistant/status'
;;   notification;
;; - runs tasks in the background: choosing an AI code action (or
;;   `assistant-router-ask', `assistant-router-run') does not block
;;   Emacs while the model answers; the result arrives as an edit,
;;   Flymake diagnostics (review) or a Markdown buffer (explain, debug:
;;   this package handles `window/showDocument', which Eglot 1.9 lacks);
;; - adds `assistant-router-ask' (free-form request, classified by the
;;   server), `assistant-router-route' (which model would get a task, and
;;   why; calls no model) and `assistant-router-run' (one task, no menu).
;;
;; Works with Emacs 28 and Eglot 1.9 (Debian 12) and later Eglot
;; versions.  Eglot manages a buffer with one server: for the modes
;; listed, assistant-router takes the place of the mode's usual server.

;;; Code:

(require 'cl-lib)
(require 'seq)
(require 'subr-x)
(require 'jsonrpc)
(require 'eglot)

(defgroup assistant-router nil
  "AI coding tasks as code actions, through Eglot."
  :group 'eglot
  :prefix "assistant-router-")

(defcustom assistant-router-command '("assistant-router" "serve")
  "Program and arguments that start the server (speaking LSP on stdio)."
  :type '(repeat string))

(defun assistant-router--set-modes (symbol value)
  "Set SYMBOL to VALUE and re-register the server for those modes."
  (set-default symbol value)
  (when (featurep 'assistant-router)
    (assistant-router-register)))

(defcustom assistant-router-modes
  '((python-mode . "python") (python-ts-mode . "python")
    (js-mode . "javascript") (js-ts-mode . "javascript")
    (typescript-mode . "typescript") (typescript-ts-mode . "typescript")
    (tsx-ts-mode . "typescriptreact")
    (go-mode . "go") (go-ts-mode . "go")
    (rust-mode . "rust") (rust-ts-mode . "rust")
    (java-mode . "java") (java-ts-mode . "java"))
  "Major modes whose buffers Eglot connects to assistant-router.
Each element is (MAJOR-MODE . LANGUAGE-ID); the language id is what
`[[rules]] when.languages' in a routing policy matches.  Modes derived
from a listed mode are included.  Set it with `customize' or
`setopt', or call `assistant-router-register' after `setq'."
  :type '(alist :key-type (symbol :tag "Major mode") :value-type (string :tag "LSP language id"))
  :set #'assistant-router--set-modes)

(defcustom assistant-router-initialization-options nil
  "`initializationOptions' sent to the server, as a plist; nil for its defaults.
Keys: `:tasks', the tasks to offer as code actions (a list of the
server's task names, see `assistant-router-task-names'; default all;
the server ignores, with a warning, a name it does not have);
`:status_notifications',
whether the server sends `assistant/status' after each task (t or
nil; default t).  Example:

  (setq assistant-router-initialization-options
        \\='(:tasks (\"review\" \"explain\" \"fix\") :status_notifications t))

Takes effect when the server (re)starts."
  :type '(plist :key-type (choice (const :tasks) (const :status_notifications))))

(defcustom assistant-router-task-timeout 1800
  "Seconds to wait for a task's result before giving up on it in Emacs.
The server has its own per-model timeouts; nil waits forever."
  :type '(choice (const :tag "No limit" nil) number))

(defcustom assistant-router-status-in-echo-area t
  "Whether each `assistant/status' is also shown in the echo area."
  :type 'boolean)

(defcustom assistant-router-background-commands '("assistant.run" "assistant.ask")
  "Server commands run asynchronously (they call a model and may take a while)."
  :type '(repeat string))

(defclass assistant-router-server (eglot-lsp-server) ()
  :documentation "An Eglot connection to assistant-router.")

;;;; Registration

(defun assistant-router--contact (&optional _interactive _project)
  "The `eglot-server-programs' contact: our server class and command."
  (cons 'assistant-router-server (copy-sequence assistant-router-command)))

(defun assistant-router--our-entry-p (entry)
  "Non-nil if ENTRY of `eglot-server-programs' was added by us."
  (eq (cdr-safe entry) #'assistant-router--contact))

;;;###autoload
(defun assistant-router-register ()
  "Register the server in `eglot-server-programs' for `assistant-router-modes'.
Earlier registrations by this function are replaced; the entries go
first, so they win over the modes' default servers."
  (interactive)
  (setq eglot-server-programs
        (append (mapcar (lambda (mode)
                          (cons (list (car mode) :language-id (cdr mode))
                                #'assistant-router--contact))
                        assistant-router-modes)
                (cl-remove-if #'assistant-router--our-entry-p eglot-server-programs))))

(defun assistant-router--json-options (options)
  "OPTIONS (a plist) as JSON-ready data: lists become arrays, nil false."
  (cl-loop for (key value) on options by #'cddr
           append (list key
                        (cond ((eq key :status_notifications) (if value t :json-false))
                              ((and value (listp value)) (vconcat value))
                              (t value)))))

(cl-defmethod eglot-initialization-options ((_server assistant-router-server))
  "Send `assistant-router-initialization-options'."
  (if assistant-router-initialization-options
      (assistant-router--json-options assistant-router-initialization-options)
    (cl-call-next-method)))

;;;; assistant/status

(defvar assistant-router-last-status nil
  "The last `assistant/status' notification, a plist.
Keys: :task :alias :provider :model :status :fallback :usage
:elapsed_ms :message.")

(defvar assistant-router--status-count 0
  "How many `assistant/status' notifications arrived.")

(defvar assistant-router--mode-line ""
  "What the mode line shows about the last task.")
(put 'assistant-router--mode-line 'risky-local-variable t)

(defun assistant-router--describe-status (status)
  "A one-line description of STATUS (an `assistant/status' plist)."
  (let* ((usage (plist-get status :usage))
         (elapsed (plist-get status :elapsed_ms))
         (message (plist-get status :message)))
    (concat (format "%s → %s (%s)" (plist-get status :task) (plist-get status :alias)
                    (plist-get status :model))
            (format ": %s" (plist-get status :status))
            (when (eq (plist-get status :fallback) t) " after fallback")
            (when (numberp elapsed) (format " in %.1f s" (/ elapsed 1000.0)))
            (when-let ((out (plist-get usage :output_tokens))) (format ", %s tokens out" out))
            (when (and (stringp message) (not (string-empty-p message))) (format " (%s)" message)))))

(defun assistant-router--mode-line-string (status)
  "The short mode-line form of STATUS."
  (let ((outcome (plist-get status :status)))
    (propertize (format " [AI %s:%s%s %s]" (plist-get status :task) (plist-get status :alias)
                        (if (eq (plist-get status :fallback) t) "↩" "") outcome)
                'face (if (member outcome '("failed" "refused" "cancelled" "held")) 'warning 'success)
                'help-echo (assistant-router--describe-status status))))

(cl-defmethod eglot-handle-notification (_server (_method (eql 'assistant/status)) &rest params)
  "Record the outcome of the last task and show it."
  (setq assistant-router-last-status params)
  (cl-incf assistant-router--status-count)
  (setq assistant-router--mode-line (assistant-router--mode-line-string params))
  (force-mode-line-update t)
  (when assistant-router-status-in-echo-area
    (message "[assistant-router] %s" (assistant-router--describe-status params))))

(unless (member '(:eval assistant-router--mode-line) mode-line-misc-info)
  (setq mode-line-misc-info (append mode-line-misc-info '((:eval assistant-router--mode-line)))))

;;;; window/showDocument: explain and debug answers open as Markdown buffers

(cl-defmethod eglot-client-capabilities ((_server assistant-router-server))
  "Declare `window/showDocument', which this package handles.
Eglot 1.9 neither handles nor declares it."
  (let* ((capabilities (cl-call-next-method))
         (window (copy-sequence (plist-get capabilities :window))))
    (plist-put capabilities :window (plist-put window :showDocument (list :support t)))))

(defun assistant-router--uri-to-path (uri)
  "The file name of URI, with whichever helper this Eglot has."
  (funcall (if (fboundp 'eglot-uri-to-path) 'eglot-uri-to-path 'eglot--uri-to-path) uri))

(defvar assistant-router-shown-documents nil
  "Files opened for `window/showDocument', most recent first.")

(defun assistant-router--visit (path take-focus)
  "Show PATH in a window; select it if TAKE-FOCUS."
  (let ((buffer (find-file-noselect path)))
    (push path assistant-router-shown-documents)
    (if take-focus (pop-to-buffer buffer) (display-buffer buffer))))

(cl-defmethod eglot-handle-request ((_server assistant-router-server) (_method (eql 'window/showDocument))
                                    &key uri external takeFocus &allow-other-keys)
  "Open the document the server shows (explain, debug, new test files)."
  (cond ((eq external t) (browse-url uri) (list :success t))
        ((file-readable-p (assistant-router--uri-to-path uri))
         ;; Visit the file outside the process filter: its major mode may start servers.
         (run-at-time 0 nil #'assistant-router--visit (assistant-router--uri-to-path uri) (eq takeFocus t))
         (list :success t))
        (t (list :success :json-false))))

;;;; Running commands in the background

(defvar assistant-router-last-result nil
  "The result of the last command run through this package, a plist.")

(defun assistant-router--summary (command result)
  "A one-line summary of RESULT of server COMMAND."
  (let ((classification (plist-get result :classification)))
    (concat
     (when classification
       (format "asked: %s (chosen by %s); " (plist-get classification :task)
               (or (plist-get classification :chosen_by) "classifier")))
     (if (equal command "assistant.route")
         (format "%s → %s (%s %s): %s" (plist-get result :task) (plist-get result :alias)
                 (plist-get result :provider) (plist-get result :model) (plist-get result :reason))
       (assistant-router--describe-status result)))))

(defun assistant-router--execute (server command arguments)
  "Run COMMAND with ARGUMENTS (a vector) on SERVER without blocking.
The result is kept in `assistant-router-last-result'."
  (let ((statuses assistant-router--status-count))
    (jsonrpc-async-request
     server :workspace/executeCommand `(:command ,command :arguments ,arguments)
     :success-fn (lambda (result)
                   (setq assistant-router-last-result result)
                   (if (equal (plist-get result :status) "needs_choice")
                       (run-at-time 0 nil #'assistant-router--choose server (aref arguments 0) result)
                     ;; The status notification already said it, unless it is off.
                     (when (or (= statuses assistant-router--status-count)
                               (plist-get result :classification))
                       (message "[assistant-router] %s" (assistant-router--summary command result)))))
     :error-fn (lambda (error)
                 (setq assistant-router-last-result (list :status "failed" :message (plist-get error :message)))
                 (message "[assistant-router] %s failed: %s" command (plist-get error :message)))
     :timeout-fn (lambda ()
                   (message "[assistant-router] no answer to %s after %s s" command assistant-router-task-timeout))
     :timeout assistant-router-task-timeout)))

;; Eglot answers window/showMessageRequest but does not declare it, so the
;; server returns the likely tasks of a request it is unsure about instead.
(defun assistant-router--choose (server ask-argument result)
  "Ask which of RESULT's candidates ASK-ARGUMENT meant, then run it on SERVER."
  (let* ((candidates (append (plist-get result :candidates) nil))
         (titles (mapcar (lambda (c) (plist-get c :title)) candidates))
         (title (completing-read
                 (format "What should I do with \u201c%s\u201d? " (plist-get ask-argument :prompt))
                 titles nil t nil nil (car titles)))
         (chosen (seq-find (lambda (c) (equal (plist-get c :title) title)) candidates)))
    (if (null chosen)
        (message "[assistant-router] no task chosen; nothing was sent")
      ;; The answer goes back as assistant.ask with its task: the server runs
      ;; it and records the choice, as when it asks the question itself.
      (assistant-router--execute server "assistant.ask"
                                 (vector (append (list :task (plist-get chosen :task)) ask-argument))))))

(cl-defmethod eglot-execute-command ((server assistant-router-server) command arguments)
  "Run the AI task commands in the background; others as usual.
Eglot 1.9 to 1.15 execute code actions' commands through this generic."
  (let ((name (format "%s" command)))
    (if (member name assistant-router-background-commands)
        (progn (assistant-router--execute server name arguments) nil)
      (cl-call-next-method))))

(when (fboundp 'eglot-execute)
  ;; Eglot 1.16+ executes code actions through `eglot-execute'.
  (cl-defmethod eglot-execute ((server assistant-router-server) action)
    "Run the AI task commands in the background; others as usual."
    (let ((command (plist-get action :command)))
      (when (and (consp command) (not (plist-get action :edit)))
        (setq action command command (plist-get command :command)))
      (if (and (stringp command) (member command assistant-router-background-commands))
          (progn (assistant-router--execute server command (plist-get action :arguments)) nil)
        (cl-call-next-method)))))

;;;; The server of this buffer

(defun assistant-router--server ()
  "The assistant-router server managing this buffer, or a user error."
  (let ((server (eglot-current-server)))
    (unless (and server
                 (seq-contains-p (plist-get (plist-get (eglot--capabilities server) :executeCommandProvider)
                                            :commands)
                                 "assistant.ask"))
      (user-error "No assistant-router server manages this buffer (start it with M-x eglot)"))
    server))

;;;; The server's task table

(defvar assistant-router--task-tables (make-hash-table :test #'eq :weakness 'key)
  "Server → its task table (a list of plists), once read.")

(defun assistant-router--task-rows (raw)
  "The rows with a name in RAW (a JSON array of task rows), or nil."
  (when (sequencep raw)
    (let ((rows nil))
      (seq-doseq (row raw)
        (let ((name (and (listp row) (plist-get row :name))))
          (when (and (stringp name) (not (string-empty-p name))
                     (not (seq-find (lambda (r) (equal (plist-get r :name) name)) rows)))
            (push row rows))))
      (nreverse rows))))

(defun assistant-router-task-table (&optional server)
  "The task table of SERVER (default: the current buffer's), in its order.
A list of plists with the keys :name :title :verb :delivery :placement
:result :codeActionKind :needsDiagnostics :emptySelection.  It comes
from the server's initialize result (capabilities.experimental
.assistantRouter.tasks) or, from a server that leaves it out there,
its `assistant.tasks' command; it is read once per connection."
  (let ((server (or server (assistant-router--server))))
    (or (gethash server assistant-router--task-tables)
        (let ((rows (or (assistant-router--task-rows
                         (plist-get (plist-get (plist-get (eglot--capabilities server) :experimental)
                                               :assistantRouter)
                                    :tasks))
                        (assistant-router--task-rows
                         (plist-get (jsonrpc-request server :workspace/executeCommand
                                                     '(:command "assistant.tasks"))
                                    :tasks)))))
          (unless rows
            (user-error "The assistant-router server sent no task list; is it up to date?"))
          (puthash server rows assistant-router--task-tables)))))

(defun assistant-router-task-names (&optional server)
  "The names of the tasks of SERVER (default: the current buffer's)."
  (mapcar (lambda (row) (plist-get row :name)) (assistant-router-task-table server)))

(defun assistant-router--task-row (task &optional server)
  "The row of TASK in the task table of SERVER, or nil."
  (seq-find (lambda (row) (equal (plist-get row :name) task)) (assistant-router-task-table server)))

(defun assistant-router--read-task (prompt &optional server)
  "Read one of the server's task names with PROMPT; the empty string is allowed.
Candidates are annotated with the task's title and what it delivers."
  (let* ((rows (assistant-router-task-table server))
         (completion-extra-properties
          (list :annotation-function
                (lambda (name)
                  (let ((row (seq-find (lambda (r) (equal (plist-get r :name) name)) rows)))
                    (when row
                      (format "  %s: %s" (plist-get row :title) (plist-get row :result))))))))
    (completing-read prompt (mapcar (lambda (row) (plist-get row :name)) rows) nil t)))

;;;; Interactive commands

(defun assistant-router--target (&optional at-cursor)
  "URI and LSP range of the region, or of the current line.
With AT-CURSOR and no region, the empty range at point."
  (let* ((region (use-region-p))
         (beg (cond (region (region-beginning)) (at-cursor (point)) (t (line-beginning-position))))
         (end (cond (region (region-end)) (at-cursor (point)) (t (line-beginning-position 2)))))
    (eglot--signal-textDocument/didChange) ; the server must see the text we point at
    (list :uri (plist-get (eglot--TextDocumentIdentifier) :uri)
          :range (list :start (eglot--pos-to-lsp-position beg)
                       :end (eglot--pos-to-lsp-position end)))))

;;;###autoload
(defun assistant-router-ask (prompt)
  "Ask the server to do PROMPT with the region (or the current line).
The server classifies the request (asking you to choose when unsure),
routes it to a model and delivers the result: an edit, review
diagnostics or an explanation."
  (interactive (list (read-string "Ask the assistant: ")))
  (let* ((server (assistant-router--server))
         (target (assistant-router--target)))
    (assistant-router--execute
     server "assistant.ask"
     (vector (append target (list :prompt prompt
                                  :diagnostics (assistant-router--diagnostics (plist-get target :range))))))))

(defun assistant-router--diagnostics (range)
  "Flymake diagnostics on the lines of the LSP RANGE, as the commands take them.
The server's classifier reads problems in the range as a hint towards a fix."
  (let ((first (plist-get (plist-get range :start) :line))
        (last (plist-get (plist-get range :end) :line)))
    (vconcat
     (delq nil
           (mapcar (lambda (diagnostic)
                     (let ((line (1- (line-number-at-pos (flymake-diagnostic-beg diagnostic) t))))
                       (when (<= first line last)
                         (list :message (flymake-diagnostic-text diagnostic) :line line))))
                   (and (bound-and-true-p flymake-mode) (flymake-diagnostics)))))))

;;;###autoload
(defun assistant-router-run (task &optional prompt)
  "Run TASK on the region (or the current line), with optional extra PROMPT.
TASK is one of the server's task names; without a region, a task whose
row says a bare cursor means \"insert here\" (scaffold) runs at point."
  (interactive (list (let ((task (assistant-router--read-task "Task: ")))
                       (if (string-empty-p task) (user-error "No task chosen") task))
                     (let ((extra (read-string "Extra instructions (optional): ")))
                       (unless (string-empty-p extra) extra))))
  (let* ((server (assistant-router--server))
         (row (or (assistant-router--task-row task server)
                  (user-error "The server has no task %S (it has: %s)" task
                              (string-join (assistant-router-task-names server) ", "))))
         (at-cursor (equal (plist-get row :emptySelection) "cursor")))
    (assistant-router--execute server "assistant.run"
                               (vector (append (list :task task) (assistant-router--target at-cursor)
                                               (when prompt (list :prompt prompt)))))))

;;;###autoload
(defun assistant-router-route (task &optional prompt)
  "Show which model TASK on the region (or line) would go to, and why.
With TASK nil, classify PROMPT first.  Calls no model.
Interactively, an empty task reads a prompt instead."
  (interactive
   (let ((task (assistant-router--read-task "Task (empty: classify a prompt): ")))
     (if (string-empty-p task)
         (list nil (read-string "Prompt to classify: "))
       (list task nil))))
  (let* ((server (assistant-router--server))
         (argument (append (when task (list :task task)) (assistant-router--target)
                           (when prompt (list :prompt prompt))))
         (result (jsonrpc-request server :workspace/executeCommand
                                  `(:command "assistant.route" :arguments [,argument]))))
    (setq assistant-router-last-result result)
    (message "[assistant-router] %s" (assistant-router--summary "assistant.route" result))
    result))

(assistant-router-register)

(provide 'assistant-router)
;;; assistant-router.el ends here
