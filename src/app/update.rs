//! [`State::update`]: how each action changes the state and which effects it asks for.

use super::chat::lines_up_to;
use super::commands::{self, Command};
use super::settings_panel::{self, MODEL_ROW, SYSTEM_ROW};
use super::{Action, Effect, Focus, Generation, Notice, State};
use crate::text::one_line;

impl State {
    /// Applies one action; returns the work the event loop must do.
    pub fn update(&mut self, action: Action) -> Vec<Effect> {
        if !matches!(action, Action::Interrupt | Action::Engine(_)) {
            self.ctrl_c_armed = false;
        }
        match action {
            Action::Quit => self.quit(),
            Action::Interrupt => self.interrupt(),
            Action::Stop => self.stop(),
            Action::FocusNext => {
                let typed = self.input.text();
                if self.focus == Focus::Input && typed.starts_with("/image ") {
                    // The folder is read by the event loop; the answer comes back as an action.
                    let ticket = self.ticket();
                    self.completing = Some(ticket);
                    return vec![Effect::CompletePath { ticket, typed }];
                }
                self.set_focus(self.focus.next());
                vec![]
            }
            Action::PathCompleted {
                ticket,
                typed,
                completed,
            } => {
                // Only the newest completion, and only if the input was not changed since.
                if self.completing == Some(ticket) {
                    self.completing = None;
                    if let Some(done) = completed.filter(|_| self.input.text() == typed) {
                        self.input.set_text(&done);
                    }
                }
                vec![]
            }
            Action::FocusPrev => {
                self.set_focus(self.focus.prev());
                vec![]
            }
            Action::ToggleHelp => {
                self.help_open = !self.help_open;
                vec![]
            }
            Action::Submit => self.submit(),
            Action::SettingEdit => {
                let name = self.panel.selected_name();
                let mut editor = super::input::InputEditor::default();
                editor.set_text(&settings_panel::value_text(
                    &self.settings,
                    self.conversation.system_prompt.as_deref(),
                    &self.model_in_use(),
                    name,
                ));
                if name == SYSTEM_ROW && self.conversation.system_prompt.is_none() {
                    editor.set_text("");
                }
                self.panel.editing = Some(editor);
                vec![]
            }
            Action::SettingPrev => {
                self.panel.move_by(-1);
                vec![]
            }
            Action::SettingNext => {
                self.panel.move_by(1);
                vec![]
            }
            Action::SettingDecrease | Action::SettingIncrease => {
                let up = matches!(action, Action::SettingIncrease);
                let name = self.panel.selected_name();
                if let Some(value) = settings_panel::stepped_value(&self.settings, name, up) {
                    self.apply_setting(name, &value);
                }
                vec![]
            }
            Action::ScrollUp(n) => {
                self.scroll_by(n as isize);
                vec![]
            }
            Action::ScrollDown(n) => {
                self.scroll_by(-(n as isize));
                vec![]
            }
            Action::PageUp => {
                self.scroll_by(self.page() as isize);
                vec![]
            }
            Action::PageDown => {
                self.scroll_by(-(self.page() as isize));
                vec![]
            }
            Action::ScrollToBottom => {
                self.scroll = 0;
                vec![]
            }
            Action::AttachImage(source) => self.run_command(Command::Image(source)),
            Action::Engine(event) => self.on_engine(event),
            Action::GenerationStarted(id) => {
                if let Generation::Running {
                    request,
                    stop_requested,
                    ..
                } = &mut self.generation
                {
                    *request = Some(id);
                    if *stop_requested {
                        return vec![Effect::Cancel(id)];
                    }
                }
                vec![]
            }
            Action::PromptRequested(id) => {
                self.prompt_request = Some(id);
                vec![]
            }
            Action::Regenerate => self.regenerate(),
            Action::NewChat => self.run_command(Command::New(None)),
            Action::Continue => self.continue_answer(),
            Action::ShowPrompt => self.show_prompt(),
            Action::CopyAnswer => self.copy_answer(None, false),
            Action::ImagePrev => {
                self.flip_image(-1);
                vec![]
            }
            Action::ImageNext => {
                self.flip_image(1);
                vec![]
            }
            Action::ImagePlay => self.play_or_pause(),
            Action::PasteImage => self.paste_clipboard_image(),
            Action::VersionPrev => {
                self.show_other_version(-1);
                vec![]
            }
            Action::VersionNext => {
                self.show_other_version(1);
                vec![]
            }
            Action::NextEngine(event) => self.on_next_engine(event),
            Action::PickerKey(key) => self.on_picker_key(key),
            Action::FolderListed { ticket, result } => self.on_folder_listed(ticket, result),
            Action::PreviewLoaded { ticket, result } => self.on_preview_loaded(ticket, result),
            Action::PlayTick(ticket) => self.play_next_frame(ticket),
            Action::OpenChatList => self.open_chat_list(),
            Action::ChatListKey(key) => self.on_list_key(key),
            Action::ChatsListed { chats, problems } => {
                self.on_chats_listed(chats, problems);
                vec![]
            }
            Action::OpenChat(id) => self.open_chat(id),
            Action::ChatOpened { ticket, result } => {
                if self.opening == Some(ticket) {
                    self.opening = None;
                    self.on_chat_opened(result);
                }
                vec![]
            }
            Action::FileNotice {
                ticket,
                text,
                is_error,
            } => {
                // A result older than one already shown would only confuse.
                if ticket.is_none() || ticket >= self.last_file_result {
                    self.last_file_result = ticket.max(self.last_file_result);
                    self.notify(text, is_error);
                }
                vec![]
            }
            Action::ImageLoaded { ticket, result, .. } => {
                self.on_image_loaded(ticket, result.map(super::clips::Loaded::Image))
            }
            Action::ClipLoaded { ticket, result, .. } => {
                self.on_image_loaded(ticket, result.map(super::clips::Loaded::Clip))
            }
            editing => {
                self.edit(editing);
                vec![]
            }
        }
    }

    /// An image (or clip) load finished: attached unless a later /image replaced it; then the
    /// next image queued starts loading.
    fn on_image_loaded(
        &mut self,
        ticket: super::Ticket,
        result: Result<super::clips::Loaded, String>,
    ) -> Vec<Effect> {
        // A load that a later /image replaced: its result is dropped.
        if self.image_loading.as_ref().map(|(t, _)| *t) != Some(ticket) {
            return vec![];
        }
        self.image_loading = None;
        match result {
            Ok(super::clips::Loaded::Image(image)) => {
                let label = one_line(&image.label);
                self.note_one_image_per_request();
                self.shown_image = Some(image.clone());
                self.attach(image);
                let message = match self.pending_images.len() {
                    1 => format!("image ready: {label}"),
                    n => format!("image ready: {label} ({n} attached to the next message)"),
                };
                self.notify(message, false);
            }
            Ok(super::clips::Loaded::Clip(clip)) => self.on_clip_sampled(clip),
            Err(message) => {
                // The message that waited for this image stays in the input.
                self.send_when_images_ready = false;
                self.notify(message, true);
            }
        }
        let mut effects = match self.images_queued.pop_front() {
            Some(next) => self.load_image(next),
            None => vec![],
        };
        if self.image_loading.is_none()
            && self.parked_clip.is_none()
            && std::mem::take(&mut self.send_when_images_ready)
        {
            effects.extend(self.send_message());
        }
        effects
    }

    /// Ctrl-V, `/paste`: the clipboard's image for the next message, loaded as `/image`
    /// loads one (a message sent meanwhile waits for it).
    fn paste_clipboard_image(&mut self) -> Vec<Effect> {
        if self.image_loading.is_some() {
            self.notify("an image is still loading: paste once it is in", true);
            return vec![];
        }
        let ticket = self.ticket();
        self.image_loading = Some((ticket, "clipboard".into()));
        self.notify("reading the clipboard", false);
        vec![Effect::ReadClipboardImage { ticket }]
    }

    /// Starts loading an image for the next message.
    fn load_image(&mut self, source: String) -> Vec<Effect> {
        let ticket = self.ticket();
        self.image_loading = Some((ticket, source.clone()));
        self.notify(format!("loading image {}", one_line(&source)), false);
        vec![Effect::LoadImage { ticket, source }]
    }

    /// Export works from the chat in memory (with the answer streaming now), never from disk.
    fn export(&mut self, format: crate::chats::ExportFormat, path: Option<String>) -> Vec<Effect> {
        if self.earlier_turns_loading {
            self.notify(super::EARLIER_TURNS_LOADING, true);
            return vec![];
        }
        if self.conversation.turns.is_empty() && self.partial_answer().is_none() {
            self.notify("nothing to export yet", true);
            return vec![];
        }
        vec![Effect::Export {
            ticket: self.ticket(),
            format,
            path,
            chat: self.chat.clone(),
            conversation: self.conversation.clone(),
            partial: self.partial_answer().map(Box::new),
        }]
    }

    fn set_focus(&mut self, focus: Focus) {
        self.panel.editing = None;
        self.focus = focus;
    }

    pub(super) fn notify(&mut self, text: impl AsRef<str>, is_error: bool) {
        self.notice = Some(Notice {
            text: one_line(text.as_ref()),
            is_error,
        });
    }

    /// Text-editing actions go to the settings value being typed, else to the input.
    fn edit(&mut self, action: Action) {
        let editor = match self.panel.editing.as_mut() {
            Some(editor) => editor,
            None => {
                self.focus = Focus::Input;
                self.input_error = None;
                &mut self.input
            }
        };
        match action {
            Action::Insert(text) => {
                // Pasted text may carry escape sequences; tabs would break cursor columns.
                editor.insert(&crate::text::sanitize(&text).replace('\t', "    "))
            }
            Action::Newline => editor.newline(),
            Action::Backspace => editor.backspace(),
            Action::Delete => editor.delete(),
            Action::Left => editor.left(),
            Action::Right => editor.right(),
            Action::Home => editor.home(),
            Action::End => editor.end(),
            Action::Up => editor.up(),
            Action::Down => editor.down(),
            Action::KillToStart => editor.kill_to_start(),
            Action::DeleteWord => editor.delete_word(),
            _ => {}
        }
    }

    fn page(&self) -> usize {
        usize::from(self.chat_viewport.get().1.saturating_sub(1)).max(1)
    }

    /// Scrolls by `delta` lines (positive = up, into the history), never past the top.
    fn scroll_by(&mut self, delta: isize) {
        let (width, height) = self.chat_viewport.get();
        let wanted = self.scroll.saturating_add_signed(delta);
        let height = usize::from(height);
        // Only the entries down to the wanted position are wrapped.
        let total = lines_up_to(self, width, wanted + height);
        self.scroll = wanted.min(total.saturating_sub(height));
    }

    fn quit(&mut self) -> Vec<Effect> {
        let mut effects = self.cancel_running();
        effects.push(Effect::Quit);
        effects
    }

    fn interrupt(&mut self) -> Vec<Effect> {
        let stopping = matches!(
            self.generation,
            Generation::Running {
                stop_requested: true,
                ..
            }
        );
        if self.ctrl_c_armed && stopping {
            // The stop is on its way; a second Ctrl-C does not wait for it.
            return self.quit();
        }
        if matches!(
            self.generation,
            Generation::Running { .. } | Generation::Queued
        ) {
            self.ctrl_c_armed = true;
            return self.stop();
        }
        if self.ctrl_c_armed {
            return self.quit();
        }
        self.ctrl_c_armed = true;
        self.notify("press Ctrl-C again to quit", false);
        vec![]
    }

    fn stop(&mut self) -> Vec<Effect> {
        if self.help_open {
            self.help_open = false;
            return vec![];
        }
        if self.panel.editing.take().is_some() {
            self.panel.error = None;
            return vec![];
        }
        match self.generation {
            Generation::Queued => {
                // Nothing was asked of the engine yet: give the message back to the input.
                self.generation = Generation::Idle;
                if let Some(crate::conversation::Turn::User(_)) = self.conversation.turns.last() {
                    if let Some(crate::conversation::Turn::User(turn)) =
                        self.conversation.turns.pop()
                    {
                        self.forget_after_turns();
                        self.touch();
                        self.input.set_text(&turn.text);
                        if !turn.images.is_empty() {
                            self.pending_images = turn.images;
                        }
                    }
                }
                self.notify("message withdrawn", false);
                vec![]
            }
            Generation::Running { .. } => self.cancel_running(),
            Generation::Idle => vec![],
        }
    }

    pub(super) fn cancel_running(&mut self) -> Vec<Effect> {
        match &mut self.generation {
            Generation::Running {
                request,
                stop_requested,
                ..
            } => {
                *stop_requested = true;
                request.map(Effect::Cancel).into_iter().collect()
            }
            _ => vec![],
        }
    }

    fn submit(&mut self) -> Vec<Effect> {
        if let Some(editor) = self.panel.editing.as_ref() {
            let value = editor.text();
            let name = self.panel.selected_name();
            if name == MODEL_ROW {
                self.panel.editing = None;
                return self.switch_model(value.trim());
            }
            if self.apply_setting(name, &value) {
                self.panel.editing = None;
            }
            return vec![];
        }
        if self.focus == Focus::Settings {
            return self.update(Action::SettingEdit);
        }
        let text = self.input.text();
        if text.trim().is_empty() {
            return vec![];
        }
        let (notes, typed) = commands::split_notes(&text);
        match commands::parse(typed) {
            Some(Ok(command)) => {
                // Taken first: a command such as /edit fills the input anew. Notes before the
                // command stay for the message.
                self.input.take();
                if !notes.is_empty() {
                    self.input.set_text(notes);
                }
                let effects = self.run_command(command);
                if self.input_error.is_some() {
                    // A refused command stays for correcting.
                    self.input.set_text(&text);
                }
                effects
            }
            Some(Err(message)) => {
                self.input_error = Some(message);
                vec![]
            }
            None => self.send_message(),
        }
    }

    /// Sets a setting (or the system prompt); a refusal is shown with the allowed range.
    fn apply_setting(&mut self, name: &str, value: &str) -> bool {
        if name == SYSTEM_ROW {
            let value = value.trim();
            self.conversation.system_prompt = (!value.is_empty()).then(|| value.to_string());
            self.touch();
            self.panel.error = None;
            self.notify("system prompt set", false);
            return true;
        }
        match self.settings.set(name, value) {
            Ok(_) => {
                self.panel.error = None;
                self.notify(
                    format!("{name} = {}", self.settings.get(name).unwrap_or_default()),
                    false,
                );
                true
            }
            Err(e) => {
                self.panel.error = Some(e.to_string());
                false
            }
        }
    }

    pub(super) fn run_command(&mut self, command: Command) -> Vec<Effect> {
        match command {
            Command::Frame(number) => self.attach_full_frame(number),
            Command::Paste => self.paste_clipboard_image(),
            Command::PickFile => {
                // Where the last local image came from, else the folder vchat runs in.
                let start = self
                    .conversation
                    .images()
                    .chain(&self.pending_images)
                    .filter_map(|i| std::path::Path::new(&i.label).parent())
                    .filter(|p| p.is_absolute())
                    .last()
                    .map(std::path::Path::to_path_buf)
                    .or_else(|| std::env::current_dir().ok())
                    .unwrap_or_else(|| std::path::PathBuf::from("/"));
                self.open_file_picker(start)
            }
            Command::Model(model) => self.switch_model(&model),
            Command::Image(source) => {
                // With one image per request, a later /image wins over one still loading,
                // whichever finishes first. A model that takes several gets them one after
                // another, so that none is dropped and they keep the order they were named in.
                if self.one_image_per_request() {
                    self.images_queued.clear();
                } else if self.image_loading.is_some() {
                    self.notify(format!("image queued: {}", one_line(&source)), false);
                    self.images_queued.push_back(source);
                    return vec![];
                }
                self.load_image(source)
            }
            Command::Detach => {
                // Loads still under way are dropped too: their results would attach again.
                let count = self.pending_images.len()
                    + self.images_queued.len()
                    + usize::from(self.image_loading.is_some())
                    + usize::from(self.parked_clip.is_some());
                self.parked_clip = None;
                self.pending_images.clear();
                self.images_queued.clear();
                self.image_loading = None;
                self.send_when_images_ready = false;
                self.notify(
                    match count {
                        0 => "no image attached to the next message".to_string(),
                        1 => "image detached from the next message".to_string(),
                        n => format!("{n} images detached from the next message"),
                    },
                    count == 0,
                );
                vec![]
            }
            Command::New(image) => {
                // The chat on screen is saved as it is before it goes: a running answer is
                // stopped first (Esc), so that none of it is lost. (A message queued for the
                // model is saved already.)
                if self.earlier_turns_loading {
                    self.notify(super::EARLIER_TURNS_LOADING, true);
                    return vec![];
                }
                if matches!(self.generation, Generation::Running { .. }) {
                    self.notify("an answer is running: Esc stops it first", true);
                    return vec![];
                }
                let mut effects = vec![];
                self.generation = Generation::Idle;
                self.conversation.turns.clear();
                self.conversation.branches = Default::default();
                self.notes.clear();
                self.forget_after_turns();
                self.touch();
                self.scroll = 0;
                // The image shown stays unless another is named: a new chat is often about
                // the same picture.
                self.images_queued.clear();
                self.send_when_images_ready = false;
                self.parked_clip = None;
                self.pending_images = match image {
                    Some(_) => Vec::new(),
                    None => self.shown_image.iter().cloned().collect(),
                };
                self.chat = crate::chats::ChatMeta::new_chat();
                self.one_image_noted = false;
                self.notify("new chat", false);
                if let Some(source) = image {
                    effects.extend(self.run_command(Command::Image(source)));
                }
                effects
            }
            Command::System(text) => {
                self.apply_setting(SYSTEM_ROW, &text);
                vec![]
            }
            Command::Set { name, value } => {
                match self.settings.set(&name, &value) {
                    Ok(canonical) => self.notify(
                        format!(
                            "{canonical} = {}",
                            self.settings.get(canonical).unwrap_or_default()
                        ),
                        false,
                    ),
                    Err(e) => self.input_error = Some(e.to_string()),
                }
                vec![]
            }
            Command::Regenerate => self.regenerate(),
            Command::Continue => self.continue_answer(),
            Command::Edit(number) => self.edit_message(number),
            Command::Prompt => self.show_prompt(),
            Command::Copy { answer, code } => self.copy_answer(answer, code),
            Command::Chats => self.open_chat_list(),
            Command::Rename(title) => {
                // The open chat's title is saved with it, by the one writer of its file.
                self.chat.title = Some(one_line(&title));
                self.touch();
                self.notify(format!("chat renamed: {}", one_line(&title)), false);
                vec![]
            }
            Command::Export { format, path } => self.export(format, path),
            Command::Help => {
                self.help_open = true;
                vec![]
            }
            Command::Quit => self.quit(),
        }
    }
}
