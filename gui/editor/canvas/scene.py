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
from engine.model.spec import BlockSpec
from engine.probes.snapshots import BlockOutput
from gui.editor.canvas import look
from gui.editor.canvas.items import BlockCard, CardContent, DropIndicator, LinkItem, OutputTerminal
from gui.editor.canvas.thumbnails import Thumbnail, make_thumbnail
from gui.editor.document import INPUT_ID, ModelDocument

SCENE_MARGIN = 30.0  # the view fits the model with this margin, so the scene must not be taller
_PITCH = look.BLOCK_HEIGHT + look.LINK_LENGTH  # distance from one card's top to the next one's


def card_top(position: int) -> float:
    """Scene y of the top of the card at ``position`` (-1 is the Input, 0 the first block)."""
    return (position + 1) * _PITCH


class ModelScene(QGraphicsScene):
    def __init__(self, document: ModelDocument, parent=None):
        super().__init__(parent)
        self.document = document
        self._cards: dict[str, BlockCard] = {}
        self._links: list[LinkItem] = []
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
        """Card keys top to bottom: the Input, then the block ids in spec order."""
        return [INPUT_ID, *(b.id for b in self.document.spec.blocks)]

    def model_rect(self) -> QRectF:
        """The area the model occupies, for fitting the view to it."""
        rect = QRectF()
        for item in [*self._cards.values(), *self._links, self._output]:
            rect = rect.united(item.sceneBoundingRect())
        return rect

    # ------------------------------------------------------------ redraw from the document

    def sync(self) -> None:
        spec, inference = self.document.spec, self.document.inference
        wanted = {INPUT_ID, *(b.id for b in spec.blocks)}
        self._syncing_selection = True
        try:
            for key in [k for k in self._cards if k not in wanted]:
                self.removeItem(self._cards.pop(key))
            self._update_card(INPUT_ID, self._input_content(), movable=False)
            for block, info in zip(spec.blocks, inference.blocks, strict=True):
                self._update_card(block.id, _block_content(block, info), movable=True)
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

    def _layout(self) -> None:
        blocks = self.document.spec.blocks
        inference = self.document.inference
        for position, key in enumerate(self.ordered_keys(), start=-1):
            card = self._cards[key]
            if not card.dragging:
                card.setPos(0, card_top(position))
        # One link below every card: to the next card, and from the last one to the Output.
        shapes = [(inference.input_shape, True)] + [
            (info.output_shape, info.ok) for info in inference.blocks
        ]
        while len(self._links) < len(shapes):
            link = LinkItem(0, 1, "", True)
            self.addItem(link)
            self._links.append(link)
        while len(self._links) > len(shapes):
            self.removeItem(self._links.pop())
        for position, (link, (shape, ok)) in enumerate(
            zip(self._links, shapes, strict=True), start=-1
        ):
            top = card_top(position) + look.BLOCK_HEIGHT
            known = shape is not None and ok
            link.set_link(top, top + look.LINK_LENGTH, format_shape(shape) if known else "?", known)
        self._output.known = inference.output_shape is not None and all(
            i.ok for i in inference.blocks
        )
        self._output.setPos(0, card_top(len(blocks)))
        self._output.update()
        rect = self.model_rect().adjusted(-220, -SCENE_MARGIN, 220, SCENE_MARGIN)
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
            block.id: info.output_shape
            for block, info in zip(self.document.spec.blocks, self.document.inference.blocks,
                                   strict=True)
        }  # fmt: skip
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

    def insertion_index_at(self, y: float) -> int:
        """The index a block dropped at scene height ``y`` is inserted at (0 = right after Input)."""
        centres = [
            card_top(i) + look.BLOCK_HEIGHT / 2 for i in range(len(self.document.spec.blocks))
        ]
        return sum(1 for c in centres if c < y)

    def gap_y(self, index: int) -> float:
        """Scene height of the gap above block ``index`` (``len(blocks)``: below the last one)."""
        return card_top(index) - look.LINK_LENGTH / 2

    def show_drop_indicator(self, index: int) -> None:
        self.drop_indicator.setPos(0, self.gap_y(index))
        self.drop_indicator.show()

    def hide_drop_indicator(self) -> None:
        self.drop_indicator.hide()

    # ------------------------------------------------------------ reorder by drag

    def _reorder_target(self, card: BlockCard) -> tuple[int, int]:
        """(source index, destination index as ModelSpec.move takes it) for a card being dragged."""
        source = self.document.spec.index_of(card.key)
        centre = card.y() + look.BLOCK_HEIGHT / 2
        others = [i for i in range(len(self.document.spec.blocks)) if i != source]
        return source, sum(1 for i in others if card_top(i) + look.BLOCK_HEIGHT / 2 < centre)

    def reorder_moved(self, card: BlockCard, dy: float) -> None:
        source = self.document.spec.index_of(card.key)
        card.setPos(0, card_top(source) + dy)
        _, target = self._reorder_target(card)
        if target == source:
            self.hide_drop_indicator()
        else:
            self.show_drop_indicator(target if target < source else target + 1)

    def reorder_finished(self, card: BlockCard) -> None:
        source, target = self._reorder_target(card)
        self.hide_drop_indicator()
        if target != source:
            self.document.move_block(source, target)  # redraws through spec_changed
        else:
            self._layout()


def _block_content(block: BlockSpec, info: BlockInfo) -> CardContent:
    block_type = CATALOGUE[block.type]
    colour = look.group_colour(block.type)
    summary = look.param_summary(block.type, block.params)
    head = f"<p><b>{html.escape(block_type.title)}</b> ({html.escape(block.id)})</p>"
    if info.error:
        fix = f"<p><i>Fix: {html.escape(info.fix.label)}</i></p>" if info.fix else ""
        tooltip = f"{head}<p style='color:#b91c1c'>{html.escape(info.error)}</p>{fix}"
        return CardContent(
            block_type.title, block.id, summary, "invalid", "", colour, "error", info.error, tooltip
        )
    if info.output_shape is None:
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
