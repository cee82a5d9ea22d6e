#!/usr/bin/env python3
"""Drives the web console (/console/) in headless Chromium with Selenium.

Called by Tests/SyncServerTests/Console/ConsoleBrowserTests.swift, one step at a time,
against a real sync-server the Swift test started and filled through the real
`field` binary. Each step checks what a duty worker or an admin would see,
saves a screenshot of every page it visits (--screenshots), and exits 1 with
one line saying what was wrong. Every page visited is also checked for the
WCAG basics the console promises: one h1, no skipped heading level, a label
for every visible input, and the security headers' effect (no inline script).

  console_browser.py intake --url URL --user ian --password PW --reference F-XXXX-XXXX --child "Amy Smith" --deadline TEXT
  console_browser.py seen --url URL --user ian --password PW --reference F-XXXX-XXXX --old TEXT --new TEXT
  console_browser.py admin --url URL --user ada --password PW --totp-uri otpauth://... --candidates A B --pick B --revoke DEVICE
  console_browser.py practitioner --url URL --user jane --password PW
  console_browser.py login-csrf --url URL --user ian --password PW
  console_browser.py attachment-list --url URL --user ian --password PW --reference F-XXXX-XXXX --label TEXT --kind PNG --size "18.6 KB" --attached-by jane
  console_browser.py attachment-view (the same) --width 96 --height 64
"""
import argparse
import base64
import datetime
import hashlib
import hmac
import os
import struct
import sys
import time
import urllib.parse

from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait


class Failure(Exception):
    pass


def expect(condition, message):
    if not condition:
        raise Failure(message)


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900", "--lang=en-GB"):
        options.add_argument(argument)
    service = Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(60)
    return driver


class Console:
    def __init__(self, driver, url, screenshots):
        self.driver = driver
        self.url = url.rstrip("/")
        self.screenshots = screenshots

    def navigating(self, action):
        """Runs `action` (a click, a key) and waits until the next page has loaded."""
        old = self.driver.find_element(By.TAG_NAME, "html")
        action()

        def replaced(_):
            # Chromium reports a node of a page that has gone either as stale
            # or as "does not belong to the document": both mean the new page is in.
            try:
                old.is_enabled()
                return False
            except WebDriverException:
                return True

        WebDriverWait(self.driver, 30).until(replaced)
        WebDriverWait(self.driver, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")
        self.check_page()

    def open(self, path):
        self.driver.get(self.url + path)
        self.check_page()

    def text(self):
        return self.driver.find_element(By.TAG_NAME, "body").text

    def check_page(self):
        """WCAG basics on every page, and no script at all."""
        d = self.driver
        headings = [int(h.tag_name[1]) for h in d.find_elements(By.CSS_SELECTOR, "h1, h2, h3, h4, h5, h6")]
        expect(headings[:1] == [1], f"{d.current_url}: the first heading is not an h1 ({headings[:3]})")
        expect(headings.count(1) == 1, f"{d.current_url}: {headings.count(1)} h1 headings")
        for before, after in zip(headings, headings[1:]):
            expect(after <= before + 1, f"{d.current_url}: heading levels skip from h{before} to h{after}")
        unlabelled = d.execute_script(
            """return Array.from(document.querySelectorAll('input, select, textarea'))
                 .filter(e => e.type !== 'hidden' && e.labels.length === 0 && !e.getAttribute('aria-label'))
                 .map(e => e.name || e.id);""")
        expect(not unlabelled, f"{d.current_url}: inputs without a label: {unlabelled}")
        scripts = d.find_elements(By.TAG_NAME, "script")
        expect(not scripts, f"{d.current_url}: the page has {len(scripts)} script element(s)")

    def shot(self, name):
        if not self.screenshots:
            return
        d = self.driver
        height = d.execute_script("return Math.max(document.body.scrollHeight, document.documentElement.scrollHeight)")
        d.set_window_size(1280, min(max(height + 40, 600), 6000))
        d.save_screenshot(os.path.join(self.screenshots, name + ".png"))
        d.set_window_size(1280, 900)

    def sign_in(self, user, password, code=None):
        self.open("/console/sign-in")
        d = self.driver
        d.find_element(By.NAME, "username").send_keys(user)
        d.find_element(By.NAME, "password").send_keys(password)
        if code:
            d.find_element(By.NAME, "code").send_keys(code)
        button = d.find_element(By.CSS_SELECTOR, "form.stacked button[type=submit]")
        self.navigating(button.click)

    def submit(self, form):
        button = form.find_element(By.CSS_SELECTOR, "button[type=submit]")
        self.navigating(button.click)


def totp(uri, at=None):
    """RFC 6238 (SHA-1, 6 digits, 30 s) from an otpauth:// URI."""
    query = urllib.parse.parse_qs(urllib.parse.urlparse(uri).query)
    secret = query["secret"][0]
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    counter = int((at or time.time()) // 30)
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF
    return f"{number % 1_000_000:06d}"


def intake(console, args):
    d = console.driver
    console.open("/console/sign-in")
    console.shot("sign-in")
    console.sign_in(args.user, args.password)
    expect(d.current_url.endswith("/console/queue"), f"after signing in, the page is {d.current_url}, not the queue")
    console.open("/console/queue?view=all")
    rows = d.find_elements(By.CSS_SELECTOR, "table.queue tbody tr")
    expect(rows, f"the queue lists nothing: {console.text()[:400]}")
    # Triage at a glance (issue 27): the referral at immediate risk, submitted last, is the first row.
    row = rows[0]
    expect(args.reference in row.text, f"the first row is not {args.reference} (immediate risk, submitted last): {row.text}")
    expect(args.child in row.text, f"the queue's row does not name the child {args.child}: {row.text}")
    expect("OVERDUE" in row.text, f"the queue's row is not marked OVERDUE: {row.text}")
    expect("IMMEDIATE RISK" in row.text and "NOT SAFE NOW" in row.text, f"the queue's row does not flag immediate risk and not safe now: {row.text}")
    expect("Referrer's deadline: " + args.deadline in row.text, f"the queue's row does not give the referrer's deadline: {row.text}")
    expect("risk" in (row.get_attribute("class") or ""), "the immediate-risk row is not tinted")
    counts = d.find_element(By.CSS_SELECTOR, "ul.counts").text
    expect("IMMEDIATE RISK" in counts and "NOT SAFE NOW" in counts, f"the counts by urgency are missing: {counts}")
    expect("not acknowledged or decided by their deadline" in console.text(), "the queue has no overdue banner")
    console.shot("queue")

    # Search: by the child's name typed differently, then by the reference.
    search = d.find_element(By.ID, "search")
    search.send_keys(args.child.upper())
    console.submit(d.find_element(By.CSS_SELECTOR, "form.search"))
    found = d.find_elements(By.CSS_SELECTOR, "table.queue tbody tr")
    expect(len(found) == 1 and args.reference in found[0].text, f"searching {args.child.upper()!r} did not find only {args.reference}: {[r.text for r in found]}")
    console.shot("queue-search")
    console.open("/console/queue?view=all&q=" + urllib.parse.quote(args.reference.lower()))
    found = d.find_elements(By.CSS_SELECTOR, "table.queue tbody tr")
    expect(len(found) == 1 and args.reference in found[0].text, f"searching the reference did not find it: {[r.text for r in found]}")

    console.navigating(found[0].find_element(By.LINK_TEXT, args.reference).click)
    page = console.text()
    expect(args.child in page, "the referral page does not show the child's name")
    expect("not yet acknowledged" in page, "the referral page does not say it is not yet acknowledged")
    expect("Consent:" in page and "Identity:" in page, "the referral page does not state consent and anonymity")
    # The child and the concern first: inside the first screen at 1280x800.
    d.set_window_size(1280, 800)
    height = d.execute_script("return window.innerHeight")
    for selector in ("h1", "p.summary", "ul.urgency"):
        bottom = d.execute_script("return arguments[0].getBoundingClientRect().bottom", d.find_element(By.CSS_SELECTOR, selector))
        expect(bottom <= height, f"{selector} ends at {bottom}px, below the first screen ({height}px)")
    expect("Is the child safe now? NO" in d.find_element(By.CSS_SELECTOR, "ul.urgency").text, "safe now? is not answered NO at the top")
    clocks = d.find_element(By.CSS_SELECTOR, "ul.clocks").text
    expect("Acknowledge" in clocks and "OVERDUE" in clocks and "immediate risk" in clocks, f"the clocks do not show the overdue acknowledgement and its rule: {clocks}")
    d.set_window_size(1280, 900)
    console.shot("referral")
    referral_url = d.current_url

    # The print stylesheet: the referral without navigation or forms.
    d.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    hidden = d.execute_script("""return ['header', 'aside form', 'form.sign-out'].map(s => Array.from(document.querySelectorAll(s))
        .every(e => getComputedStyle(e).display === 'none'))""")
    expect(all(hidden), f"printing still shows the navigation or forms: {hidden}")
    expect(d.find_element(By.CSS_SELECTOR, "p.summary").is_displayed(), "printing hides the concern")
    console.shot("referral-print")
    d.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})

    # A POST without the CSRF token is refused and changes nothing.
    acknowledge = d.find_element(By.CSS_SELECTOR, "form[action$='/acknowledge']")
    d.execute_script("arguments[0].querySelector('input[name=csrf]').remove();", acknowledge)
    console.submit(acknowledge)
    expect("did not come from the console" in console.text(), f"a form without its CSRF token was not refused: {console.text()[:300]}")
    console.shot("csrf-refused")
    d.get(referral_url)
    console.check_page()
    expect("not yet acknowledged" in console.text(), "a refused form changed the referral")

    # Keyboard only: Tab reaches the Acknowledge button, Enter presses it.
    body = d.find_element(By.TAG_NAME, "body")
    body.send_keys(Keys.TAB)
    for _ in range(80):
        active = d.switch_to.active_element
        if active.tag_name == "button" and active.text == "Acknowledge":
            break
        active.send_keys(Keys.TAB)
    else:
        raise Failure("Tab never reached the Acknowledge button")
    outline = d.execute_script("const s = getComputedStyle(document.activeElement); return s.outlineStyle + ' ' + s.boxShadow;")
    expect("solid" in outline or "rgb" in outline, f"the focused button has no visible focus style ({outline})")
    focused = d.switch_to.active_element
    console.navigating(lambda: focused.send_keys(Keys.ENTER))
    expect("Acknowledged." in console.text(), f"acknowledging did not say so: {console.text()[:300]}")

    rating = d.find_element(By.CSS_SELECTOR, "form[action$='/rating']")
    rating.find_element(By.CSS_SELECTOR, "input[name=rating][value=red]").click()
    rating.find_element(By.NAME, "reason").send_keys(args.rating_reason)
    console.submit(rating)
    text = console.text()
    expect("RAG rating recorded." in text and "Red: serious concern" in text, "the rating was not recorded")
    expect("internal: not sent to the referrer" in text, "the rating's reason is not labelled internal")

    decision = d.find_element(By.CSS_SELECTOR, "form[action$='/decision']")
    Select(decision.find_element(By.NAME, "outcome")).select_by_value(args.outcome)
    decision.find_element(By.NAME, "note").send_keys(args.note)
    console.submit(decision)
    expect("Decision recorded" in console.text(), f"the decision was not recorded: {console.text()[:300]}")
    expect(args.note in console.text(), "the decision's note is not on the page")
    expect("the outcome, feedback note and any reason for a change reach the referrer" in console.text(), "what reaches the referrer is not labelled")
    console.shot("referral-decided")
    console.open("/console/queue?view=all")
    console.shot("queue-decided")


def seen(console, args):
    """After the referrer changed an answer: CHANGED with the old and the new value, then "seen: decision stands", then the history."""
    d = console.driver
    console.sign_in(args.user, args.password)
    console.open("/console/queue?view=active")
    row = next((r for r in d.find_elements(By.CSS_SELECTOR, "table.queue tbody tr") if args.reference in r.text), None)
    expect(row is not None and "CHANGED" in row.text, f"the changed referral is not flagged in the default view: {console.text()[:400]}")
    console.navigating(row.find_element(By.LINK_TEXT, args.reference).click)
    box = d.find_element(By.CSS_SELECTOR, ".changed-box").text
    expect(args.old in box and args.new in box, f"the CHANGED box does not show the old and new values: {box}")
    console.shot("referral-changed")
    form = d.find_element(By.CSS_SELECTOR, "form[action$='/seen']")
    form.find_element(By.NAME, "note").send_keys(args.seen_note)
    console.submit(form)
    text = console.text()
    expect("Marked as seen" in text and not d.find_elements(By.CSS_SELECTOR, ".changed-box"), f"seen did not clear CHANGED: {text[:300]}")
    expect(args.seen_note in text, "the seen note is not on the record")
    console.navigating(d.find_element(By.LINK_TEXT, "The whole history").click)
    history = console.text()
    for expected in ("reference given", "acknowledged", "rated", "decided", "seen: decision stands", args.old, args.new, args.seen_note):
        expect(expected in history, f"the history lacks {expected!r}")
    console.shot("history")
    console.open("/console/queue?view=active")
    expect(args.reference not in console.text(), "the referral is still in the default view after seen")


def known(console, args):
    """A child referred by two agencies: the queue counts a possible match; the referral page shows it with its
    reasons; intake confirms it; the chronology joins both referrals and the queue flags the child referred before."""
    d = console.driver
    console.sign_in(args.user, args.password)
    console.open("/console/queue?view=all")
    row = next((r for r in d.find_elements(By.CSS_SELECTOR, "table.queue tbody tr") if args.reference in r.text), None)
    expect(row is not None and "1 possible match to check" in row.text, f"the queue row does not count the possible match: {row.text if row else console.text()[:400]}")
    console.navigating(row.find_element(By.LINK_TEXT, args.reference).click)
    section = d.find_element(By.CSS_SELECTOR, "section.known")
    expect("POSSIBLE MATCH" in section.text and args.other in section.text and "same name" in section.text,
           f"the possible match and its reasons are not shown: {section.text[:600]}")
    if console.screenshots:
        d.execute_script("arguments[0].scrollIntoView()", section)
        section.screenshot(os.path.join(console.screenshots, "referral-known.png"))
    form = section.find_element(By.CSS_SELECTOR, "form.match-form")
    form.find_element(By.NAME, "reason").send_keys(args.match_reason)
    console.navigating(form.find_element(By.CSS_SELECTOR, "button[value=confirm]").click)
    expect("Match confirmed" in console.text(), f"no confirmation: {console.text()[:300]}")
    section = d.find_element(By.CSS_SELECTOR, "section.known")
    expect("2 referrals in 12 months from 2 agencies" in section.text, f"the counts did not join: {section.text[:400]}")
    expect(args.match_reason in section.text and "Undo" in section.text, "the confirmed match does not say who, why, or offer undo")
    console.navigating(section.find_element(By.PARTIAL_LINK_TEXT, "Chronology").click)
    text = console.text()
    expect(args.reference in text and args.other in text and "(this referral)" in text, f"the chronology lacks a referral: {text[:500]}")
    console.shot("chronology")
    console.open("/console/queue?view=all")
    row = next((r for r in d.find_elements(By.CSS_SELECTOR, "table.queue tbody tr") if args.reference in r.text), None)
    expect(row is not None and "KNOWN TO THE FRONT DOOR: 2 referrals in 12 months from 2 agencies" in row.text, f"the queue does not flag the child: {row.text if row else ''}")


def admin(console, args):
    d = console.driver
    console.sign_in(args.user, args.password)
    expect("authenticator app" in console.text(), "an admin without a code was not asked for one")
    # The server's clock, which a test may have set, decides which code is current.
    at = datetime.datetime.fromisoformat(args.totp_at.replace("Z", "+00:00")).timestamp() if args.totp_at else None
    console.sign_in(args.user, args.password, totp(args.totp_uri, at))
    expect(d.current_url.endswith("/console/conflicts"), f"after signing in, the page is {d.current_url}, not the conflicts")
    section = d.find_element(By.CSS_SELECTOR, "section.conflict")
    for value in args.candidates:
        expect(value in section.text, f"the open conflict does not show the candidate {value!r}: {section.text}")
    console.shot("conflicts")
    row = next(r for r in section.find_elements(By.CSS_SELECTOR, "tbody tr") if args.pick in r.text)
    row.find_element(By.CSS_SELECTOR, "input[name=pick]").click()
    section.find_element(By.NAME, "reason").send_keys(args.reason)
    console.submit(section.find_element(By.TAG_NAME, "form"))
    expect("Conflict resolved" in console.text(), f"resolving did not say so: {console.text()[:300]}")
    expect("No open conflicts." in console.text(), "the conflict is still open")
    console.shot("conflicts-resolved")

    console.open("/console/devices")
    expect(args.revoke in console.text(), f"the devices page does not list {args.revoke}")
    console.shot("devices")
    console.navigating(d.find_element(By.CSS_SELECTOR, f"a[href='/console/devices/{args.revoke}/revoke']").click)
    expect("cannot be undone" in console.text(), "revoking has no confirmation page")
    console.shot("revoke")
    console.submit(d.find_element(By.CSS_SELECTOR, "main form"))
    expect(f"Device {args.revoke} is revoked." in console.text(), "the device was not revoked")

    console.open("/console/audit")
    expect("intact" in console.text(), f"the audit chain is not reported intact: {console.text()[:300]}")
    console.shot("audit")
    console.open("/console/audit?action=resolve")
    rows = d.find_elements(By.CSS_SELECTOR, "tbody tr")
    expect(len(rows) == 1 and "resolve" in rows[0].text, f"filtering the audit by action=resolve gave {len(rows)} row(s)")
    console.submit(d.find_element(By.CSS_SELECTOR, "form.sign-out"))
    expect("You have signed out" in console.text(), "signing out did not say so")
    console.open("/console/conflicts")
    expect(d.current_url.endswith("/console/sign-in"), "after signing out, the console still opened")


def practitioner(console, args):
    console.sign_in(args.user, args.password)
    expect("Practitioners cannot sign in here" in console.text(), f"a practitioner was not refused: {console.text()[:300]}")
    expect(console.driver.current_url.endswith("/console/sign-in"), "a practitioner got past the sign-in page")
    console.shot("sign-in-refused")


def login_csrf(console, args):
    """A page on another site (localhost, where the console is 127.0.0.1)
    posts the sign-in form with the user's own credentials, as an attacker
    who wants the duty worker's later actions recorded under another name
    would: with the constant the server once expected, with an empty token,
    and with none. Each is refused and nobody is signed in; the same
    credentials then work from the console's own page."""
    import http.server
    import threading

    target = console.url + "/console/sign-in"
    forms = []
    for name, csrf in (("dash", "-"), ("empty", ""), ("none", None)):
        field = "" if csrf is None else f'<input type="hidden" name="csrf" value="{csrf}">'
        forms.append(f"""<form id="{name}" method="post" action="{target}">{field}
            <input type="hidden" name="username" value="{args.user}"><input type="hidden" name="password" value="{args.password}">
            <button type="submit">{name}</button></form>""")
    page = ("<!doctype html><title>Another site</title><h1>Another site</h1>" + "".join(forms)).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *_):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    other = f"http://localhost:{server.server_address[1]}/"
    d = console.driver
    try:
        for name in ("dash", "empty", "none"):
            d.get(other)
            button = d.find_element(By.CSS_SELECTOR, f"form#{name} button")
            console.navigating(button.click)
            expect("did not come from the console" in console.text(),
                   f"a sign-in posted from another site ({name} token) was not refused: {console.text()[:300]}")
            if name == "dash":
                console.shot("sign-in-from-another-site")
            console.open("/console/")
            expect(d.current_url.endswith("/console/sign-in"), f"a sign-in posted from another site ({name} token) signed someone in")
    finally:
        server.shutdown()
    console.sign_in(args.user, args.password)
    expect(not d.current_url.endswith("/console/sign-in"), f"the same credentials did not sign in from the console's own page: {console.text()[:300]}")


def attachments_section(console, args):
    """Signs in, finds the referral by its reference in the queue and opens it; its Attachments section."""
    d = console.driver
    console.sign_in(args.user, args.password)
    console.open("/console/queue?view=all&q=" + urllib.parse.quote(args.reference))
    rows = d.find_elements(By.CSS_SELECTOR, "table.queue tbody tr")
    expect(len(rows) == 1 and args.reference in rows[0].text, f"searching {args.reference} did not find it alone: {[r.text for r in rows]}")
    console.navigating(rows[0].find_element(By.LINK_TEXT, args.reference).click)
    return d.find_element(By.CSS_SELECTOR, "section[aria-labelledby=attachments-heading]")


def attachment_list(console, args):
    """The referral page lists the attachment (its label, kind and size, with View and Download) without opening it."""
    d = console.driver
    section = attachments_section(console, args)
    rows = section.find_elements(By.CSS_SELECTOR, "table.attachments tbody tr")
    expect(len(rows) == 1, f"the Attachments section lists {len(rows)} attachment(s): {section.text[:400]}")
    cells = [cell.text for cell in rows[0].find_elements(By.TAG_NAME, "td")]
    expect(len(cells) == 7, f"an attachment's row has {len(cells)} cells: {cells}")
    expect(cells[1] == args.label and cells[2] == args.kind and cells[3] == args.size,
           f"the row does not give the label {args.label!r}, kind {args.kind!r} and size {args.size!r}: {cells}")
    expect(args.attached_by in cells[4], f"the row does not say {args.attached_by} attached it: {cells[4]!r}")
    links = [a.text for a in rows[0].find_elements(By.TAG_NAME, "a")]
    expect(links == ["View", "Download"], f"the row's links are {links}, not View and Download")
    # Listed, not opened: nothing on the page loads the file.
    sources = d.execute_script("return Array.from(document.querySelectorAll('img, iframe, object, embed')).map(e => e.src || e.data)")
    expect(not sources, f"the referral page loads {sources}")
    if console.screenshots:
        d.execute_script("arguments[0].scrollIntoView()", section)
        section.screenshot(os.path.join(console.screenshots, "referral-attachments.png"))


def attachment_view(console, args):
    """View opens the attachment's page; the image loads and decodes at its own size."""
    d = console.driver
    section = attachments_section(console, args)
    console.navigating(section.find_element(By.LINK_TEXT, "View").click)
    expect(d.find_element(By.TAG_NAME, "h1").text == args.label, f"the attachment's page is headed {d.find_element(By.TAG_NAME, 'h1').text!r}")
    text = console.text()
    expect(f"{args.kind}, {args.size}, sent by {args.attached_by}" in text, f"the page does not say what the file is: {text[:400]}")
    expect("recorded in the audit trail" in text, "the page does not say that viewing is audited")
    image = d.find_element(By.CSS_SELECTOR, "figure.attachment img")
    WebDriverWait(d, 30).until(lambda _: d.execute_script("return arguments[0].complete", image))
    size = d.execute_script("return [arguments[0].naturalWidth, arguments[0].naturalHeight]", image)
    expect(size == [args.width, args.height], f"the image decoded as {size[0]}x{size[1]}, not {args.width}x{args.height} (broken?)")
    expect(image.get_attribute("alt") == args.label, f"the image's alt text is {image.get_attribute('alt')!r}")
    console.shot("attachment")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("step", choices=["intake", "seen", "known", "admin", "practitioner", "login-csrf", "attachment-list", "attachment-view"])
    parser.add_argument("--url", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--screenshots")
    parser.add_argument("--reference")
    parser.add_argument("--child")
    parser.add_argument("--deadline")
    parser.add_argument("--old")
    parser.add_argument("--new")
    parser.add_argument("--seen-note", default="Covered by the strategy discussion already arranged")
    parser.add_argument("--rating-reason", default="Bruising on a baby who is not mobile")
    parser.add_argument("--outcome", default="s47-enquiry")
    parser.add_argument("--note", default="Strategy discussion today; a social worker will contact you.")
    parser.add_argument("--totp-uri")
    parser.add_argument("--totp-at", help="the server's time (ISO 8601), when a test has set its clock")
    parser.add_argument("--candidates", nargs="*", default=[])
    parser.add_argument("--pick")
    parser.add_argument("--reason", default="The laptop's account is the health visitor's own observation")
    parser.add_argument("--revoke")
    parser.add_argument("--other", help="the reference of the referral a possible match is in")
    parser.add_argument("--match-reason", default="Same child: the school confirmed her name and address")
    parser.add_argument("--label", help="an attachment's label, as the referral page and its own page show it")
    parser.add_argument("--kind", help="an attachment's kind as shown (PNG)")
    parser.add_argument("--size", help="an attachment's size as shown (18.6 KB)")
    parser.add_argument("--attached-by", help="who attached it")
    parser.add_argument("--width", type=int, help="the attached image's width in pixels")
    parser.add_argument("--height", type=int, help="the attached image's height in pixels")
    args = parser.parse_args()
    if args.screenshots:
        os.makedirs(args.screenshots, exist_ok=True)
    driver = browser()
    try:
        console = Console(driver, args.url, args.screenshots)
        {
            "intake": intake, "seen": seen, "known": known, "admin": admin, "practitioner": practitioner, "login-csrf": login_csrf,
            "attachment-list": attachment_list, "attachment-view": attachment_view,
        }[args.step](console, args)
    except Failure as failure:
        print(f"FAILED ({args.step}): {failure}", file=sys.stderr)
        if args.screenshots:
            driver.save_screenshot(os.path.join(args.screenshots, f"failure-{args.step}.png"))
        sys.exit(1)
    finally:
        driver.quit()
    print(f"ok: {args.step}")


if __name__ == "__main__":
    main()
