"""Precision filters for extracted article text: drop the boilerplate extractors let through.

The main extractor (trafilatura) finds the article's region of the page well, but the
region often holds more than the article: the headline printed again, bylines and
dates, "Read more: ..." teasers and lists of related stories, newsletter boxes,
share/follow prompts, donation appeals, photo credits, copyright lines and the button
labels of widgets ("Continue", "×"). :func:`clean_blocks` removes those, block by block
(a block is one paragraph, heading, list item or table row of the extracted text).

Every rule is generic (no site names) and conservative: a pattern only removes a
*short* block, where it is the block's whole purpose, never a long paragraph that
merely mentions a newsletter or a subscription. Three signals come from the page
itself rather than from word lists (:class:`PageContext`):

- the headline (``<title>``, ``og:title``, ``<h1>``...): a block equal to it is the
  headline repeated, not body text;
- the texts of the page's ``<a>`` elements: a block whose whole text is one link is a
  teaser or navigation item when it comes in a run, under a "Related" heading or at the
  edge of the article (an isolated linked heading between paragraphs is kept);
- the meta description: kept unless it is exactly a heading-like standfirst line.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["Block", "PageContext", "classify_blocks", "clean_blocks", "collapse_space", "index_anchors",
           "link_coverage", "text_key", "title_keys"]


@dataclass
class Block:
    """One paragraph-level unit of extracted text."""

    text: str
    kind: str = "p"  # p | head | item | quote | row | other


@dataclass
class PageContext:
    """What the filters need to know about the page the blocks come from."""

    titles: set[str] = field(default_factory=set)  # text_key()s of headline candidates
    anchors: dict[str, list[str]] = field(default_factory=dict)  # index_anchors() of <a> text keys
    anchor_keys: set[str] = field(default_factory=set)  # the <a> text keys themselves
    descriptions: set[str] = field(default_factory=set)  # text_key()s of meta descriptions
    urls: set[str] = field(default_factory=set)  # the page's own URLs (as given, canonical)


_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)
_LIST_MARKER = re.compile(r"^\s*(?:[-–—•*·▪►>|]+|\d{1,3}[.)])\s+")
_WORD = re.compile(r"\w+", re.UNICODE)
_URL_LIKE = re.compile(r"^(?:https?://|www\.)\S+$", re.I)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
_TITLE_SPLIT = re.compile(r"\s+[|–—:·•»-]\s+|\s+::\s+")


def collapse_space(text) -> str:
    """``text`` (None: "") with every run of whitespace one space, none at the ends."""
    return " ".join(str(text or "").split())


def text_key(text: str) -> str:
    """Comparison key: casefolded words joined by single spaces (punctuation dropped)."""
    return _NON_WORD.sub(" ", text.casefold()).strip()


def title_keys(titles) -> set[str]:
    """Keys of headline candidates and of their parts around " | Site name" separators."""
    keys = set()
    for title in titles:
        if not title:
            continue
        key = text_key(title)
        if key:
            keys.add(key)
        parts = _TITLE_SPLIT.split(title)
        if len(parts) > 1:
            for part in parts:
                part_key = text_key(part)
                if len(part_key) >= 20 or len(part_key.split()) >= 4:
                    keys.add(part_key)
    return keys


_CJK = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f]")


def _words(text: str) -> int:
    """Word count; CJK text counts one word per 2 characters (no spaces to split on)."""
    count = len(text.split())
    if text.isascii():
        return count
    return count + len(_CJK.findall(text)) // 2


def _rx(*alternatives: str) -> re.Pattern:
    return re.compile("|".join(f"(?:{a})" for a in alternatives), re.I | re.UNICODE)


# -- headings that introduce lists of other stories ("teaser sections") --------------
_TEASER_HEADING = _rx(
    r"related(?: (?:articles?|stories|story|posts?|content|coverage|news|reading|links?|topics?|videos?))?",
    r"(?:read|see|view|show|load|watch|discover) (?:more|also|next)(?: (?:stories|articles|news|videos|on|from|about)\b.*)?",
    r"(?:also|further) read(?:ing)?", r"see also", r"more (?:from|on|about|in|stories|news|articles|videos|coverage|headlines|to read)\b.*",
    r"recommended(?: for you| stories| articles| reading| videos)?", r"you (?:may|might) (?:also )?(?:like|enjoy|be interested in)",
    r"(?:we|you) think you ?ll (?:like|enjoy)", r"don ?t miss(?: this)?", r"must read", r"editor ?s? picks?",
    r"(?:most|more) (?:read|popular|viewed|shared|commented|watched)(?: (?:stories|articles|news|now|today|this week))?",
    r"(?:trending|popular)(?: now| stories| news| articles| today)?", r"top (?:stories|news|headlines|videos|picks)",
    r"(?:recent|latest|other|similar|more|featured|suggested|sponsored|partner|popular) (?:stories|posts|articles|news|videos|content|reads|links)",
    r"what to read next", r"up next", r"next (?:story|article|up)", r"in (?:other|case you missed(?: it)?) news",
    r"in case you missed it", r"around the web", r"from (?:the web|our partners|around the web)", r"promoted (?:stories|links|content)",
    r"keep reading", r"continue reading", r"explore (?:further|more)", r"(?:also|more) on \S+", r"latest(?: news| stories| videos)?", r"tags?", r"topics?",
    # other languages
    r"leggi anche", r"potrebbe interessarti", r"articoli correlati", r"leia (?:também|mais)", r"veja (?:também|mais)",
    r"saiba mais", r"notícias relacionadas", r"lesen sie (?:auch|mehr)", r"mehr zum thema", r"das könnte sie (?:auch )?interessieren",
    r"weitere artikel", r"(?:à )?lire aussi", r"voir aussi", r"sur le même sujet", r"(?:à )?lire également", r"lee (?:también|más)",
    r"te puede interesar", r"noticias relacionadas", r"ver (?:también|más)", r"leer más", r"lees ook", r"meer (?:nieuws|lezen)",
    r"читайте (?:также|еще|ещё)", r"(?:ещё|еще|новости)? ?по теме", r"смотрите также", r"похожие (?:новости|статьи)",
    r"相关(?:阅读|新闻|文章|报道)", r"延伸阅读", r"推荐阅读", r"関連(?:記事|ニュース)", r"あわせて読みたい", r"관련(?:기사|뉴스)",
)
_TEASER_PREFIX = re.compile(
    r"^(?:related(?: articles?| stories| story| coverage| content| news| reading| link)?|read more|read also|also read|"
    r"see more|see also|more|watch|listen|watch more|more on this(?: story)?|also on \S+|recommended|don(?:'|’)?t miss|"
    r"must read|trending|editor(?:'|’)?s picks?|click here|previously|leggi anche|leia também|leia mais|veja também|"
    r"lesen sie auch|mehr zum thema|lire aussi|à lire aussi|voir aussi|lee también|ver también|читайте также|по теме|"
    r"смотрите также|相关阅读|延伸阅读|関連記事|관련기사)\s*(?:[:»>|–—-]|\.{3}|…)", re.I)
_ALSO_ON = re.compile(r"^also on [\w.-]+\.[a-z]{2,}\b", re.I)

# -- calls to action: newsletter, subscription, app, follow/share ---------------------
_CTA = _rx(
    r"\b(?:our|free|daily|weekly|morning|evening|email|e-mail) (?:[\w-]+ ){0,3}newsletters?\b",
    r"^newsletters?\b", r"\bnewsletters?\b.{0,40}\b(?:sign up|subscribe|inbox)",
    r"\byour (?:inbox|mailbox)\b", r"^(?:sign up|subscribe|register|join)\b", r"^(?:[\w'’-]+ ){0,3}newsletters?$",
    r"\ban error (?:has )?occurred\b", r"\bplease try again later\b", r"\bthis article has been sent to\b",
    r"\b(?:email|e-mail|send) this (?:article|story|page)\b",
    r"\bsign up (?:for|to) our\b",
    r"\bsign up (?:for|to) (?:the|a|free|this) (?:[\w-]+ ){0,3}(?:newsletters?|e-?mails?|alerts?|updates|briefings?|digest)\b", r"\bsubscribe (?:to (?:our|the|this)|now|today|here|for (?:free|just|only|\$))",
    r"\bsubscribers? agree\b", r"\bunsubscribe\b", r"thanks? (?:you )?for (?:signing up|subscribing|registering)",
    r"\benter your e-?mail\b", r"\byour e-?mail address\b", r"\berror processing your subscription\b",
    r"\b(?:read|see|view|agree to) (?:our|the) privacy (?:policy|notice)\b", r"^privacy (?:policy|notice)\b",
    r"\b(?:download|get) (?:the|our)\b.{0,40}\bapp\b", r"\bclick(?:ing)? here\b", r"\btap here\b",
    r"^(?:follow|like|join|find) (?:us|\w+(?: \w+){0,6}) on (?:twitter|facebook|instagram|linkedin|youtube|tiktok|telegram|x|whatsapp|threads)\b",
    r"\bfollow (?:us|him|her|them|me)\b.{0,40}\b(?:twitter|facebook|instagram|linkedin|youtube|telegram|@\w+)",
    r"\bon (?:twitter|x|instagram)\s+@\w+", r"\bshare (?:this|it) with a friend\b", r"\blike this (?:story|article)\b",
    r"\bcomments? (?:are|have been) closed\b", r"\bleave a (?:comment|reply)\b", r"\b(?:log|sign) in to (?:comment|reply|continue)\b",
    r"\bjoin the (?:conversation|discussion)\b", r"\border reprints?\b", r"\bprint (?:this )?article\b",
    r"\bnon-?commercial use only\b", r"\bfor personal use only\b", r"\bavailable on (?:the )?(?:app store|google play)",
    r"\bhave a (?:news )?tip\b", r"\bsend us (?:a|your) tip\b", r"\b(?:contact|reach|email) (?:us|the (?:author|writer|reporter))\b",
    r"\bwrite to \w+.{0,40}@", r"\bemail \w+(?: \w+)? at\b",
    r"подпис(?:ывайтесь|аться|ывайся)", r"рассылк", r"inscreva-se", r"abonnieren sie", r"abonnez-vous", r"suscríbete", r"iscriviti",
)
_SHARE_LINE = re.compile(r"^(?:share|tweet|email|pin|post) (?:this|on|via|to)\b", re.I)
_APPEAL = _rx(
    r"\bsupport (?:us|our|the|independent|quality|free)\b", r"^support\b", r"\bdonat(?:e|es|ed|ion|ions|ing)\b",
    r"\bcontribut(?:e|ion|ions|ing)\b.{0,60}(?:[$€£]|\b(?:monthly|journalism|today|us)\b)",
    r"\b(?:support|contribut|donat|give|chip in)\w*\b.{0,80}[$€£]\s?\d", r"[$€£]\s?\d.{0,60}\b(?:support|contribut|donat)",
    r"\bbecome a (?:member|patron|supporter|subscriber|friend)\b", r"\bsmall favou?r to ask\b", r"\bdear readers?\b",
    r"\b(?:a )?message from (?:the )?[\w ]{2,40}[:!]?$", r"\bindependent journalism\b", r"\bpaywall\b",
    r"\bremind me later\b", r"\bneed your (?:help|support)\b", r"\bnot ready to (?:support|donate|give)\b", r"\bpayment methods?\b", r"\bpaiment\b",
    r"\bmake a (?:one-time |monthly )?(?:gift|donation|contribution)\b", r"\bkeep (?:our|this) journalism\b",
    r"\bподдержите\b", r"\bпожертвова", r"\bunterstützen sie\b", r"\bsoutenez\b", r"\bapoie\b", r"\bapoya\b",
)
# opening lines of an appeal box: from there to the end of the text is the box (matched
# at the start of a block, hence re.match)
_APPEAL_START = re.compile(
    r"\W*(?:(?:a )?message from\b|dear (?:readers?|friends?|subscribers?)\b|.{0,40}\bsmall favou?r to ask\b|"
    r"(?:please )?support (?:us|our|the|independent)\b|before you (?:go|continue|leave)\b|"
    r"if you (?:value|appreciate|enjoy|like|believe)\b.{0,80}\b(?:support|journalism|donat|contribut|subscri)|"
    r"enjoying (?:ad-free )?(?:content|this article|our journalism)\b|(?:we|our journalism) need[s]? your (?:help|support)\b|"
    r"(?:why|how) (?:you can )?support\b|(?:уважаемые|дорогие) читатели)", re.I | re.UNICODE)

# -- the whole block is layout text (buttons, labels) ---------------------------------
_LAYOUT_WORDS = {
    "read more", "read full story", "read full article", "read the full story", "read the full article", "continue",
    "continue reading", "keep reading", "show more", "show less", "load more", "see more", "view more", "more", "less",
    "next", "previous", "prev", "back", "back to top", "top", "close", "open", "menu", "search", "home", "skip",
    "skip ad", "skip advertisement", "advertisement", "advertising", "ad", "ads", "sponsored", "sponsored content",
    "promoted", "paid content", "loading", "loading please wait", "share", "share this", "share this article",
    "share this story", "share article", "tweet", "email", "e mail", "print", "save", "pin", "copy link", "link copied",
    "copied", "facebook", "twitter", "linkedin", "whatsapp", "reddit", "telegram", "pinterest", "x", "comments",
    "comment", "view comments", "show comments", "post a comment", "add a comment", "reply", "like", "follow",
    "subscribe", "sign up", "sign in", "log in", "login", "register", "join", "join now", "donate", "support us",
    "support", "donate now", "once", "one time", "monthly", "annual", "annually", "yearly", "other amount",
    "remind me later", "not now", "no thanks", "maybe later", "got it", "accept", "ok", "okay", "listen",
    "listen to this article", "watch", "play", "pause", "video", "photo", "photos", "image", "gallery", "view gallery",
    "enlarge", "expand", "zoom", "caption", "toggle caption", "hide caption", "fullscreen", "full screen", "feedback",
    "report", "report an error", "preview", "updated", "published", "opinion", "analysis", "breaking", "live",
    "breaking news", "exclusive", "watch now", "listen now", "download", "newsletter", "newsletters", "related",
    "tags", "topics", "categories", "category", "filed under", "source", "sources", "credits", "all", "more stories",
    "paiment methods", "payment methods", "media playback is unsupported on your device",
    "your browser does not support the video tag", "this video is not available", "javascript is disabled", "not ready to support today", "thank you", "thanks", "sorry",
    "leggi anche", "weiterlesen", "mehr", "lire la suite", "leer más", "leia mais", "читать далее", "далее", "подробнее",
    "ещё", "еще", "поделиться", "閉じる", "もっと見る", "더보기", "更多", "阅读全文",
}

# -- bylines, dates, credits ----------------------------------------------------------
_MONTHS = (
    r"jan(?:uary|\.)?|feb(?:ruary|\.)?|mar(?:ch|\.)?|apr(?:il|\.)?|may|jun(?:e|\.)?|jul(?:y|\.)?|aug(?:ust|\.)?|"
    r"sep(?:t(?:ember)?|\.)?|oct(?:ober|\.)?|nov(?:ember|\.)?|dec(?:ember|\.)?|"
    r"januar|februar|märz|mai|juni|juli|oktober|dezember|janvier|février|mars|avril|juin|juillet|août|septembre|"
    r"octobre|novembre|décembre|enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|setiembre|octubre|"
    r"noviembre|diciembre|gennaio|febbraio|aprile|maggio|giugno|luglio|settembre|ottobre|dicembre|janeiro|"
    r"fevereiro|março|maio|junho|julho|setembro|outubro|novembro|dezembro|"
    r"января|февраля|марта|апреля|мая|июня|июля|августа|сентября|октября|ноября|декабря"
)
_DAYS = (
    r"mon(?:day)?|tue(?:s|sday)?|wed(?:nesday)?|thu(?:r|rs|rsday)?|fri(?:day)?|sat(?:urday)?|sun(?:day)?|"
    r"montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonntag|lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche|"
    r"lunes|martes|miércoles|jueves|viernes|sábado|domingo|lunedì|martedì|mercoledì|giovedì|venerdì|"
    r"segunda-feira|terça-feira|quarta-feira|quinta-feira|sexta-feira|"
    r"понедельник|вторник|среда|четверг|пятница|суббота|воскресенье"
)
_DATE_TOKEN = re.compile(
    rf"\b(?:{_MONTHS}|{_DAYS})\b\.?|\b\d{{1,4}}(?:[-/.:]\d{{1,4}}){{0,2}}(?:st|nd|rd|th|h)?\b|\b[ap]\.?m\.?(?!\w)|"
    r"\b(?:gmt|utc|bst|cet|cest|est|edt|cst|cdt|mst|mdt|pst|pdt|ist|amt|msk|jst|kst|aest|aedt)\b|"
    r"\d{4}年|\d{1,2}月|\d{1,2}日|\d{1,2}時|\d{1,2}分",
    re.I | re.UNICODE)
# what makes a line a date and not just numbers (a score, a time, a table row)
_STRONG_DATE = re.compile(
    rf"\b(?:{_MONTHS})\b|\b(?:19|20)\d\d\b|\b\d{{1,2}}[-/.]\d{{1,2}}[-/.]\d{{2,4}}\b|\d{{4}}年",
    re.I | re.UNICODE)
_DATE_WORDS = re.compile(
    r"\b(?:published|updated|posted|modified|last|first|created|date|on|at|am|um|le|à|às|de|del|di|the|of|in|and|"
    r"time|hours?|mins?|minutes?|ago|read|reading|uhr|publicado|atualizado|actualizado|pubblicato|aggiornato|"
    r"veröffentlicht|aktualisiert|publié|mis à jour|опубликовано|обновлено|года?|г|в|updated on|publication|"
    r"yesterday|today|edited|by|por|von|par|da|door|ist|et)\b", re.I | re.UNICODE)
_BYLINE = re.compile(
    r"^(?:(?:written|reported|posted|edited|words|text|story|photos?|interview|compiled|published|updated)\s+)?"
    r"(?:by|von|par|por|di|door|автор|текст)\s*:?\s+\S", re.I | re.UNICODE)
_CREDITS_LINE = re.compile(r"^(?:additional )?(?:reporting|writing|editing|research|compiled|translated|produced)"
                           r"(?: and \w+)? by\b", re.I)
_BYLINE_LABEL = re.compile(
    r"\b(?:(?:published|publicado|publicada|posted|updated|atualizado|written|pubblicato|veröffentlicht|publié)\s*(?:by|por|von|par|da|on|em|:)|"
    r"(?:author|autor|autore|auteur|автор|categor\w*|tags?|filed under|schlagworte)\s*:)", re.I)
_CREDIT = re.compile(
    r"^(?:\(?(?:photo|image|picture|pic|illustration|foto|fotó|imagen|immagine|bild|фото|credits?|source|"
    r"quelle|fonte|fuente|getty|afp|reuters|ap|epa|shutterstock|istock|courtesy)s?\b(?:\s+credits?)?\s*(?::|by|via|courtesy|©|/|\||-|–)|©|\(c\)\s|copyright\b)",
    re.I | re.UNICODE)
_AGENCIES = (r"getty images|afp|reuters|ap|ap photo|epa|epa-efe|shutterstock|istock|istockphoto|pexels|pixabay|unsplash|"
             r"tass|ria novosti|sputnik|wikimedia commons|flickr|alamy|bloomberg|xinhua|ansa|dpa|efe|anadolu|"
             r"press association|pa|pa images|pa wire|zuma|zuma press|sipa|imago|picture alliance|nurphoto")
_CREDIT_ONLY = re.compile(
    rf"^(?:[\w'’&-]+(?: [\w'’&-]+){{0,3}}\s*(?:/|\||via|for|-|–)\s*)?(?:{_AGENCIES})(?: (?:via|/) getty images)?\.?$"
    rf"|^(?:{_AGENCIES})\s*/\s*[\w'’-]+(?: [\w'’-]+){{0,3}}\.?$",
    re.I | re.UNICODE)
_COPYRIGHT = re.compile(r"^(?:copyright\b|©|\(c\)\s)|\ball rights reserved\b|\btous droits réservés\b|\bвсе права защищены\b|"
                        r"\btodos los derechos reservados\b|\balle rechte vorbehalten\b", re.I | re.UNICODE)
_SLUG = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)+$")
_DIGIT = re.compile(r"\d")
_GLUED = re.compile(r"(?<=[a-z])(?=[A-Z][a-z])")
_DATE_LABEL = re.compile(
    r"^\W*(?:last )?(?:updated|published|posted|modified|publicado|atualizado|actualizado|pubblicato|aggiornato|"
    r"veröffentlicht|aktualisiert|publié|mis à jour|опубликовано|обновлено)\b", re.I)
_ENDS_SENTENCE = re.compile(r"[.!?…。！？\"”»)]$")

# blocks above this many words are never dropped by a pattern (only by a section rule)
_SHORT = 40


def link_coverage(key: str, anchors: dict[str, list[str]]) -> float:
    """Share of a block's key covered by link texts of the page (0..1).

    ``anchors`` maps a link text's first word to the keys of the page's link texts.
    """
    if not key:
        return 0.0
    covered = 0
    pos = 0
    end = len(key)
    while pos < end:
        space = key.find(" ", pos)
        word = key[pos:space if space >= 0 else end]
        best = 0
        for anchor in anchors.get(word, ()):
            if len(anchor) > best and key.startswith(anchor, pos) and (
                    pos + len(anchor) == end or key[pos + len(anchor)] == " "):
                best = len(anchor)
        if best:
            covered += best
            pos += best + 1
        elif space < 0:
            break
        else:
            pos = space + 1
    return min(1.0, covered / end)


def _is_link_only(key: str, ctx: PageContext) -> bool:
    """Whether (at least 80% of) the block is the text of the page's links."""
    if not key:
        return False
    if key in ctx.anchor_keys:
        return True
    # a covering run of links starts at the first or second word ("Related: <link>")
    first, _, rest = key.partition(" ")
    if first not in ctx.anchors and rest.partition(" ")[0] not in ctx.anchors:
        return False
    return link_coverage(key, ctx.anchors) >= 0.8


def index_anchors(keys) -> dict[str, list[str]]:
    """Link-text keys grouped by first word (the form :func:`link_coverage` wants)."""
    index: dict[str, list[str]] = {}
    for key in keys:
        if key:
            index.setdefault(key.split(" ", 1)[0], []).append(key)
    return index


_NAME_PARTICLES = frozenset(("and", "und", "et", "y", "e", "и", "de", "da", "das", "do", "dos", "van", "von", "der",
                             "den", "di", "del", "della", "la", "le", "du", "bin", "al", "el", "ten", "ter", "in"))


def _names_only(text: str) -> bool:
    """Whether what follows "By" reads as names: no lowercase words but name particles."""
    tokens = _WORD.findall(text)[1:]
    lower = [t for t in tokens if t[0].islower() and t not in _NAME_PARTICLES]
    return bool(tokens) and not lower


def _is_date_or_byline(text: str, words: int) -> bool:
    """A line that only says who wrote the article and when."""
    if words > 25:
        return False
    text = _GLUED.sub(" ", text)  # "Associated PressUpdated: ..." (two elements without a space)
    byline = _BYLINE.match(text) is not None
    digits = _DIGIT.search(text) is not None
    strong = (byline or digits) and (_STRONG_DATE.search(text) is not None or (digits and _DATE_LABEL.match(text) is not None))
    if not strong and not byline:
        return False
    dates = len(_DATE_TOKEN.findall(text))
    rest = _DATE_WORDS.sub(" ", _DATE_TOKEN.sub(" ", text))
    if strong and dates and len(_WORD.findall(rest)) <= 1:
        return True  # "Updated: Nov. 19, 2019 5:06 PM"
    if byline and words <= 12 and not _ENDS_SENTENCE.search(text.rstrip(" .")) and _names_only(text):
        return True  # "By Jane Doe and John Roe" (not "Por qué sube el precio del gas")
    if byline and strong and words <= 20:
        return True  # "By Jane Doe | Published 18 November 2019"
    if strong and words <= 20 and _BYLINE_LABEL.search(text):
        return True  # "05/10/2018 - Publicado por: X - Categoria: Y"
    return False


def _drop_reason(block: Block, key: str, core: str, words: int, ctx: PageContext) -> str | None:
    """Why a single block is boilerplate on its own (None: keep it)."""
    text = block.text
    if key in ctx.titles:
        return "headline"
    if not key or core in _LAYOUT_WORDS or key in _LAYOUT_WORDS:
        return "layout"
    if words > _SHORT:
        return None
    if words <= 2 and _SLUG.match(text):
        return "layout"  # "article-image": an image's alt text or a CSS class leaking through
    low = text.casefold()
    if words <= 30 and _hints(low, _COPYRIGHT_HINTS) and _COPYRIGHT.search(low):
        return "copyright"
    if _TEASER_PREFIX.match(low) or _ALSO_ON.match(low):
        return "teaser"
    if words <= 8 and _SHARE_LINE.match(low):
        return "cta"
    if (words <= 30 or not _ENDS_SENTENCE.search(text)) and _hints(low, _CTA_HINTS) and _CTA.search(low):
        return "cta"
    if words <= 30 and _is_appeal(low):
        return "appeal"
    if block.kind != "row" and _is_date_or_byline(text, words):
        return "byline"
    if _CREDITS_LINE.match(text):
        return "byline"  # "Reporting by A; Editing by B"
    if words <= 15 and (_CREDIT.match(text) or _CREDIT_ONLY.match(text)):
        return "credit"
    if "@" in text and words <= 30 and _EMAIL.search(text) and (words <= 6 or _CONTACT.search(text)):
        return "contact"  # "Write to Jane Doe at jane@example.com", a bare address
    if ctx.urls and text.rstrip("/") in ctx.urls:
        return "self-link"
    return None


_CTA_HINTS = ("error", "try again", "sent to", "this article", "this story", "newsletter", "inbox", "mailbox", "sign", "subscri", "regist", "join", "mail", "privacy", "app", "click",
              "tap here", "follow", "twitter", "facebook", "instagram", "@", "share", "like this", "comment", "reprint",
              "print", "commercial", "personal use", "available on", "tip", "contact", "reach", "подпис", "рассылк",
              "inscreva", "abonn", "suscr", "iscriv", "find us")
_APPEAL_HINTS = ("need your", "support", "donat", "contribut", "$", "member", "patron", "subscriber", "favo", "dear", "message from",
                 "journalism", "ad-free", "ad free", "paywall", "remind me", "not ready", "payment", "paiment", "gift",
                 "поддерж", "пожертв", "unterstütz", "souten", "apoie", "apoya")
_COPYRIGHT_HINTS = ("copyright", "©", "(c)", "rights reserved", "droits", "права", "derechos", "rechte")


def _hints(low: str, hints: tuple[str, ...]) -> bool:
    """Cheap substring pre-test before a long regex alternation."""
    for hint in hints:
        if hint in low:
            return True
    return False


def _is_appeal(low: str) -> bool:
    return _hints(low, _APPEAL_HINTS) and _APPEAL.search(low) is not None


_CONTACT = re.compile(r"\b(?:write|email|e-mail|contact|reach|reached|tips?|follow)\b", re.I)
_TWEET_SUFFIX = re.compile(r"\s*(?:click to tweet|tweet this(?: quote)?)\s*$", re.I)


def _is_teaser_heading(key: str) -> bool:
    return bool(key) and len(key) <= 60 and _TEASER_HEADING.fullmatch(key) is not None


def clean_blocks(blocks: list[Block], ctx: PageContext) -> list[Block]:
    """Drop the boilerplate blocks; returns the kept ones, in order (texts may be trimmed)."""
    return [b for b, why in zip(blocks, classify_blocks(blocks, ctx)) if why is None]


def classify_blocks(blocks: list[Block], ctx: PageContext) -> list[str | None]:
    """For each block, why it is boilerplate ("headline", "teaser", ...), or None to keep it.

    Trims a trailing "Click to tweet" off a block's text in place.
    """
    for block in blocks:
        if block.text.endswith(("weet", "WEET", "uote")) and _TWEET_SUFFIX.search(block.text):
            block.text = _TWEET_SUFFIX.sub("", block.text)
    n = len(blocks)
    texts = [b.text for b in blocks]
    words = [_words(t) for t in texts]
    # long paragraphs are never headlines, links or labels: a cheap key is enough for them
    keys = [text_key(t) if w <= 80 else t.casefold() for t, w in zip(texts, words)]
    cores = [text_key(_LIST_MARKER.sub("", t)) if b.kind == "item" or t[:1] in "-–—•*·▪►>|" or t[:1].isdigit() else k
             for b, t, k in zip(blocks, texts, keys)]
    is_link = [words[i] <= 80 and _is_link_only(cores[i], ctx) and not _URL_LIKE.match(texts[i]) for i in range(n)]
    drop: list[str | None] = [None] * n

    # 1. single blocks
    for i, block in enumerate(blocks):
        drop[i] = _drop_reason(block, keys[i], cores[i], words[i], ctx)

    # 2. link-only blocks: runs of them (lists of other stories), the first/last block
    #    of the text, list items; a lone linked heading inside the body stays.
    i = 0
    while i < n:
        if not is_link[i]:
            i += 1
            continue
        j = i
        while j + 1 < n and is_link[j + 1]:
            j += 1
        if j > i or i == 0 or j == n - 1:
            for k in range(i, j + 1):
                drop[k] = drop[k] or "links"
        elif blocks[i].kind != "head" and words[i] <= 40:
            # a paragraph or list item that is all one link between paragraphs is a teaser
            # ("READ MORE ...", "[Related: ...]"); a linked heading still heads its section
            drop[i] = drop[i] or "link-line"
        i = j + 1

    # 3. the standfirst: a heading at the top that repeats the meta description, or a
    #    top block that the body repeats (the lead printed as a teaser, then as text)
    seen_top = 0
    for i in range(n):
        if drop[i]:
            continue
        if seen_top == 0 and blocks[i].kind == "head" and keys[i] in ctx.descriptions:
            drop[i] = "standfirst"
        elif words[i] >= 8 and blocks[i].kind in ("p", "head") and any(
                keys[i] in keys[k] for k in range(i + 1, min(n, i + 6)) if not drop[k]):
            drop[i] = "standfirst"
        seen_top += 1
        if seen_top >= 3:
            break

    # 4. teaser sections: a "Related" / "Read more" / "Recent stories" heading, and the
    #    short or linked blocks that follow it
    for i in range(n):
        if words[i] <= 8 and _is_teaser_heading(cores[i]):
            drop[i] = drop[i] or "teaser-heading"
            for k in range(i + 1, n):
                if is_link[k] or drop[k] or (words[k] <= 20 and not _ENDS_SENTENCE.search(texts[k])) or (
                        blocks[k].kind == "item" and words[k] <= 30):
                    drop[k] = drop[k] or "teaser-section"
                else:
                    break

    # 5. appeal boxes (donation / membership) when the box really is one (two appeal
    #    phrases at least). At the top: the short blocks before the headline or the first
    #    real paragraph; further down: from the box's opening line to the end.
    def appeal(k: int) -> bool:
        return words[k] <= 80 and (drop[k] in ("appeal", "cta") or _is_appeal(texts[k].casefold()))

    start = 0
    while start < n and drop[start] == "layout":
        start += 1
    if start < n and words[start] <= 60 and (_APPEAL_START.match(texts[start]) or appeal(start)):
        end = start
        while end + 1 < n and drop[end + 1] != "headline" and (words[end + 1] <= 25 or appeal(end + 1)):
            end += 1
        if sum(1 for k in range(start, end + 1) if appeal(k)) >= 2:
            for k in range(start, end + 1):
                drop[k] = drop[k] or "appeal-box"
    for i in range(n // 3, n):
        if words[i] <= 60 and _APPEAL_START.match(texts[i]):
            hits = sum(1 for k in range(i, min(n, i + 12)) if drop[k] == "layout" or appeal(k))
            if hits >= 2:
                for k in range(i, n):
                    drop[k] = drop[k] or "appeal-box"
                break

    # 6. a block printed twice in a row (headline in two renderings, a teaser twice)
    previous = None
    for i in range(n):
        if drop[i] or not keys[i] or blocks[i].kind == "row":
            continue
        if keys[i] == previous:
            drop[i] = "repeated"
        previous = keys[i]
    return drop
