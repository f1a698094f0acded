/// A short fixed list of names (field names, kinds, methods) that rules test strings
/// against on every review. Lengths are compared first: a `Set` hashes every probe, and a
/// failing `String ==` is an out-of-line call, where most candidates differ in length.
struct NameList: Sendable, ExpressibleByArrayLiteral {
    let names: [String]
    private let lengths: [Int]

    init(_ names: [String]) {
        self.names = names
        lengths = names.map(\.utf8.count)
    }

    init(arrayLiteral names: String...) { self.init(names) }

    func firstIndex(of name: String) -> Int? {
        let length = name.utf8.count
        for i in names.indices where lengths[i] == length && names[i] == name { return i }
        return nil
    }

    func contains(_ name: String) -> Bool { firstIndex(of: name) != nil }
}
