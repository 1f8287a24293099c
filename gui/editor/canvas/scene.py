"""The scene: the document's stack drawn as cards from the Input at the top to the Output.

It redraws from the document on every ``spec_changed`` (cards are kept by block id, so a card
that is being dragged survives the redraw) and mirrors the document's selection both ways.
Reordering by drag moves a card visually and reaches the document once, at mouse release.
During and after a run the cards can show their block's output for the probe sample
(``set_block_outputs``, from the training dashboard).
"""

from __future__ import annotations

import html

from PySide6.QtCore import QRectF
from PySide6.QtWidgets import QGraphicsScene

from engine.model.catalogue import CATALOGUE, INPUT_HELP
from engine.model.inference import BlockInfo
from engine.model.shapes import format_shape
from engine.model.spec import BlockPath, BlockSpec
from engine.probes.snapshots import BlockOutput
from gui.editor.canvas import look
from gui.editor.canvas.group import GroupFrame
from gui.editor.canvas.items import BlockCard, CardContent, DropIndicator, LinkItem, OutputTerminal
from gui.editor.canvas.layout import card_top, lay_out
from gui.editor.canvas.thumbnails import Thumbnail, make_thumbnail
from gui.editor.document import INPUT_ID, ModelDocument

SCENE_MARGIN = 30.0  # the view fits the model with this margin, so the scene must not be taller
__all__ = ["SCENE_MARGIN", "ModelScene", "card_top"]


class ModelScene(QGraphicsScene):
    def __init__(self, document: ModelDocument, parent=None):
        super().__init__(parent)
        self.document = document
        self._cards: dict[str, BlockCard] = {}
        self._links: list[LinkItem] = []
        self._frames: dict[str, GroupFrame] = {}
        self.layout = lay_out(document.spec, document.inference, INPUT_ID)
        self._output = OutputTerminal()
        self.addItem(self._output)
        self.drop_indicator = DropIndicator()
        self.addItem(self.drop_indicator)
        self._syncing_selection = False
        self._anchor: str | None = None
        self._thumbnails: dict[str, tuple[BlockOutput, Thumbnail]] = {}
        self._thumbnails_shown = True
        document.spec_changed.connect(self.sync)
        document.selection_changed.connect(self._selection_from_document)
        self.selectionChanged.connect(self._selection_to_document)
        self.sync()

    # ------------------------------------------------------------ reading the scene

    def card(self, key: str) -> BlockCard:
        return self._cards[key]

    def ordered_keys(self) -> list[str]:
        """Card keys top to bottom: the Input, then the block ids in spec order, the blocks
        inside a residual block right after its own card."""
        return [r.key for r in self.layout.rows if not r.closing]

    def frame(self, block_id: str) -> GroupFrame:
        """The frame drawn around residual block ``block_id`` and its inner cards."""
        return self._frames[block_id]

    def model_rect(self) -> QRectF:
        """The area the model occupies, for fitting the view to it."""
        rect = QRectF()
        for item in [*self._cards.values(), *self._links, *self._frames.values(), self._output]:
            rect = rect.united(item.sceneBoundingRect())
        return rect

    # ------------------------------------------------------------ redraw from the document

    def sync(self) -> None:
        self.layout = lay_out(self.document.spec, self.document.inference, INPUT_ID)
        wanted = set(self.ordered_keys())
        self._syncing_selection = True
        try:
            for key in [k for k in self._cards if k not in wanted]:
                self.removeItem(self._cards.pop(key))
            self._update_card(INPUT_ID, self._input_content(), movable=False)
            for row in self.layout.rows[1:]:
                if not row.closing:
                    self._update_card(row.key, _block_content(row.block, row.info), movable=True)
            self._update_frames()
            self._layout()
            self._apply_selection()
            self._place_thumbnails()
        finally:
            self._syncing_selection = False

    def _update_card(self, key: str, content: CardContent, movable: bool) -> None:
        card = self._cards.get(key)
        if card is None:
            card = self._cards[key] = BlockCard(key, content, movable)
            self.addItem(card)
        elif card.content != content:
            card.set_content(content)

    def _input_content(self) -> CardContent:
        inp = self.document.spec.input
        summary = _input_summary(inp.kind, inp.shape)
        tooltip = f"<p><b>Input</b> — {inp.kind} {format_shape(inp.shape)}</p><p>{html.escape(INPUT_HELP)}</p>"
        return CardContent(
            "Input",
            inp.kind,
            summary,
            format_shape(inp.shape),
            "one sample",
            look.GROUP_COLOURS["Input"],
            tooltip=tooltip,
        )

    def _update_frames(self) -> None:
        groups = {g.block_id: g for g in self.layout.groups}
        for key in [k for k in self._frames if k not in groups]:
            self.removeItem(self._frames.pop(key))
        for key, group in groups.items():
            if key in self._frames:
                self._frames[key].set_group(group)
            else:
                self._frames[key] = GroupFrame(group)
                self.addItem(self._frames[key])

    def _layout(self) -> None:
        inference, rows = self.document.inference, self.layout.rows
        for row in rows:
            card = self._cards.get(row.key)
            if card is not None and not card.dragging:
                card.setPos(0, row.top)
        # One link below every row: to the next row, and from the last one to the Output.
        while len(self._links) < len(rows):
            link = LinkItem(0, 1, "", True)
            self.addItem(link)
            self._links.append(link)
        while len(self._links) > len(rows):
            self.removeItem(self._links.pop())
        for index, (link, row) in enumerate(zip(self._links, rows, strict=True)):
            below = rows[index + 1].top if index + 1 < len(rows) else self.layout.bottom
            known = row.shape_below is not None and row.known_below
            label = format_shape(row.shape_below) if known else "?"
            link.set_link(row.bottom, below, label, known)
        self._output.known = inference.output_shape is not None and all(
            i.ok for i in inference.blocks
        )
        self._output.setPos(0, self.layout.bottom)
        self._output.update()
        # The model and a margin. 220 px each side made a 740 px scene of 300 px cards, and a
        # horizontal scroll bar under any canvas narrower than that, though the model fitted.
        m = SCENE_MARGIN
        rect = self.model_rect().adjusted(-m, -m, m, m)
        self.setSceneRect(rect)

    # ------------------------------------------------------------ activation thumbnails

    def set_block_outputs(self, outputs: tuple[BlockOutput, ...] | None) -> None:
        """Each block's output for the probe sample, drawn on its card; None forgets them."""
        self._thumbnails = {o.block_id: (o, make_thumbnail(o)) for o in outputs or ()}
        self._place_thumbnails()

    @property
    def thumbnails_shown(self) -> bool:
        return self._thumbnails_shown

    def set_thumbnails_shown(self, shown: bool) -> None:
        """Draw the thumbnails on the cards or not (View › Activation thumbnails on blocks)."""
        self._thumbnails_shown = bool(shown)
        self._place_thumbnails()

    def _place_thumbnails(self) -> None:
        shapes = {
            row.key: row.info.output_shape
            for row in self.layout.rows[1:]
            if row.info is not None and not row.closing
        }
        for key, card in self._cards.items():
            found = self._thumbnails.get(key) if self._thumbnails_shown else None
            # An edit since the probe ran (another shape) makes the picture stale: none is shown.
            if found is not None and tuple(found[0].values.shape) != tuple(shapes.get(key) or ()):
                found = None
            card.set_thumbnail(found[1] if found else None)

    # ------------------------------------------------------------ selection, both ways

    def _selection_to_document(self) -> None:
        if self._syncing_selection:
            return
        keys = [k for k in self.ordered_keys() if k in self._cards and self._cards[k].isSelected()]
        if len(keys) == 1:
            self._anchor = keys[0]
        self.document.set_selection(keys)

    def _selection_from_document(self) -> None:
        self._syncing_selection = True
        try:
            self._apply_selection()
        finally:
            self._syncing_selection = False

    def _apply_selection(self) -> None:
        selected = set(self.document.selection)
        for key, card in self._cards.items():
            if card.isSelected() != (key in selected):
                card.setSelected(key in selected)

    def select_range_to(self, key: str) -> None:
        """Shift-click: select every card from the last clicked one to ``key``."""
        keys = self.ordered_keys()
        anchor = self._anchor if self._anchor in keys else key
        lo, hi = sorted((keys.index(anchor), keys.index(key)))
        self.document.set_selection(keys[lo : hi + 1])

    # ------------------------------------------------------------ where a drop lands

    def insertion_index_at(self, y: float) -> BlockPath:
        """Where a block dropped at scene height ``y`` goes: a path, (0,) right after the Input,
        (2, 0) first inside the residual block at index 2."""
        return self.layout.gap_at(y)

    def gap_y(self, index: int | BlockPath) -> float:
        """Scene height of the gap above block ``index`` (``len(blocks)``: below the last one);
        a path names a gap inside a residual block."""
        return self.layout.gap_y((index,) if isinstance(index, int) else tuple(index))

    def show_drop_indicator(self, index: int | BlockPath) -> None:
        self.drop_indicator.setPos(0, self.gap_y(index))
        self.drop_indicator.show()

    def hide_drop_indicator(self) -> None:
        self.drop_indicator.hide()

    # ------------------------------------------------------------ reorder by drag

    def _reorder_target(self, card: BlockCard) -> tuple[BlockPath, BlockPath | None]:
        """(the dragged block's path, the gap it would go to; None where it stays put)."""
        source = self.layout.row(card.key).path
        target = self.layout.gap_at(card.y() + look.BLOCK_HEIGHT / 2, exclude=source)
        # The gaps right above and right below a block both leave it where it is.
        stays = target in (source, (*source[:-1], source[-1] + 1))
        return source, None if stays else target

    def reorder_moved(self, card: BlockCard, dy: float) -> None:
        card.setPos(0, self.layout.row(card.key).top + dy)
        _, target = self._reorder_target(card)
        if target is None:
            self.hide_drop_indicator()
        else:
            self.show_drop_indicator(target)

    def reorder_finished(self, card: BlockCard) -> None:
        source, target = self._reorder_target(card)
        self.hide_drop_indicator()
        # Into, out of or within a residual block alike; redraws through spec_changed.
        if target is None or not self.document.move_block_to(source, target):
            self._layout()


def _block_content(block: BlockSpec, info: BlockInfo | None) -> CardContent:
    block_type = CATALOGUE[block.type]
    colour = look.group_colour(block.type)
    summary = look.param_summary(block.type, block.params)
    if info is not None and info.join:
        summary = f"{summary} · skip: {info.join}"
    head = f"<p><b>{html.escape(block_type.title)}</b> ({html.escape(block.id)})</p>"
    if info is not None and info.error:
        fix = f"<p><i>Fix: {html.escape(info.fix.label)}</i></p>" if info.fix else ""
        tooltip = f"{head}<p style='color:#b91c1c'>{html.escape(info.error)}</p>{fix}"
        return CardContent(
            block_type.title, block.id, summary, "invalid", "", colour, "error", info.error, tooltip
        )
    if info is None or info.output_shape is None:
        tooltip = f"{head}<p>Not checked: a block above it has a problem.</p>"
        return CardContent(
            block_type.title, block.id, summary, "?", "", colour, "unchecked", tooltip=tooltip
        )
    shapes = f"<p>{format_shape(info.input_shape)} → {format_shape(info.output_shape)} · {info.param_count:,} parameters</p>"
    tooltip = f"{head}{shapes}<p>{html.escape(block_type.help)}</p>"
    return CardContent(
        block_type.title,
        block.id,
        summary,
        format_shape(info.output_shape),
        look.format_count(info.param_count),
        colour,
        tooltip=tooltip,
    )


def _input_summary(kind: str, shape: tuple[int, ...]) -> str:
    def plural(n: int, word: str) -> str:
        return f"{n} {word}{'' if n == 1 else 's'}"

    if kind == "image":
        return f"{plural(shape[0], 'channel')} · {shape[1]}×{shape[2]} pixels"
    if kind == "sequence":
        return f"{plural(shape[0], 'step')} × {plural(shape[1], 'feature')}"
    return plural(shape[0], "feature")
