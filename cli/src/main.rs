fn main() {
    println!("pbx");
}
