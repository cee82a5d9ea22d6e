import Foundation

/// A page of one sentence (`ConsoleTemplates.message`): a refusal, with the way back.
struct MessagePage {
    let heading: String
    let text: String
    let link: String
    let linkText: String
}
